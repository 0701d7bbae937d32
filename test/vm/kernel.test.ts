// VM tier, first suite: the guest kernel's features (test/vm/inner/kernel.inner.ts, one boot)
// and the tier's reboot mechanics (a second boot of a fresh kernel with the same share).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defineVmSuite } from './suite.js';
import { runInVm } from './vm.js';

const shareDir = await mkdtemp(join(tmpdir(), 'hostnetd-vm-kernel-'));
afterAll(() => rm(shareDir, { recursive: true, force: true }));

await defineVmSuite({ nics: 4, files: ['test/vm/inner/kernel.inner.ts'], shareDir });

describe('reboot mechanics', () => {
  it('a second boot, with a fresh kernel, reads back what the first wrote into the share', async () => {
    // Written by the inner test "the share > is writable and leaves a boot marker ...".
    const first = JSON.parse(await readFile(join(shareDir, 'boot1.json'), 'utf8')) as { bootId: string; token: string };
    const second = await runInVm({
      nics: 0,
      shareDir,
      timeoutMs: 4 * 60_000,
      command: 'cat "$HOSTNETD_VM_SHARE/boot1.json"; echo; cat /proc/sys/kernel/random/boot_id',
    });
    expect(second.exitCode, second.console).toBe(0);
    const [markerLine, bootId] = second.output.trim().split('\n');
    expect(JSON.parse(markerLine!)).toEqual(first);
    expect(bootId).toMatch(/^[0-9a-f-]{36}$/);
    expect(bootId).not.toBe(first.bootId);
  }, 5 * 60_000);
});
