// VM tier: a DHCP network across a real reboot. First boot: DHCP over a bond, leased, made safe,
// power loss. Second boot: `hostnetd restore`, then the daemon adopts the client restore started.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { ensureBuilt } from '../helpers/daemon.js';
import { defineVmSuite } from './suite.js';

const shareDir = await mkdtemp(join(tmpdir(), 'hostnetd-vm-dhcp-reboot-'));
afterAll(() => rm(shareDir, { recursive: true, force: true }));

await ensureBuilt();
await defineVmSuite({ nics: 1, files: ['test/vm/inner/dhcp-reboot-before.inner.ts'], shareDir, timeoutMs: 8 * 60_000 });
await defineVmSuite({ nics: 1, files: ['test/vm/inner/dhcp-reboot-after.inner.ts'], shareDir, timeoutMs: 8 * 60_000 });
