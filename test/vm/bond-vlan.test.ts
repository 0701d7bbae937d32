// VM tier: bonds and VLANs through the real daemon on a real kernel (one boot, 5 virtio NICs).
// The inner files start hostnetd in the VM's root namespace and check VDSM's invariant
// (running config == capabilities) after every call. dist/ is built here, on the host:
// building under TCG would take minutes.
import { ensureBuilt } from '../helpers/daemon.js';
import { defineVmSuite } from './suite.js';

await ensureBuilt();
await defineVmSuite({ nics: 5, files: ['test/vm/inner/vlans.inner.ts', 'test/vm/inner/bonds.inner.ts'], timeoutMs: 12 * 60_000 });
