// VM tier: fault injection at every step of a change to a VLAN over a bond (issue 10), through the
// real daemon with its test-only fault seam (src/faults.ts). dist/ is built here, on the host.
import { ensureBuilt } from '../helpers/daemon.js';
import { defineVmSuite } from './suite.js';

await ensureBuilt();
await defineVmSuite({ nics: 5, files: ['test/vm/inner/faults.inner.ts'], timeoutMs: 15 * 60_000 });
