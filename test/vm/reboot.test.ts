// VM tier: the real reboot test. First boot: networks and a bond, made safe, then an unsafe
// change, then power-off. Second boot: a fresh kernel with the same state directory (on the
// share that survives), `hostnetd restore`, and the safe config must be back exactly.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { ensureBuilt } from '../helpers/daemon.js';
import { defineVmSuite } from './suite.js';

const shareDir = await mkdtemp(join(tmpdir(), 'hostnetd-vm-reboot-'));
afterAll(() => rm(shareDir, { recursive: true, force: true }));

await ensureBuilt();
await defineVmSuite({ nics: 5, files: ['test/vm/inner/reboot-before.inner.ts'], shareDir, timeoutMs: 6 * 60_000 });
await defineVmSuite({ nics: 5, files: ['test/vm/inner/reboot-after.inner.ts'], shareDir, timeoutMs: 6 * 60_000 });
