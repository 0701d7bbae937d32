// Vitest config for the tests that run INSIDE a VM of the test tier (test/vm/suite.ts passes
// it with --config). The outer run never collects these files: they end in .inner.ts.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import InnerFailuresReporter from './inner-failures.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
// The guest runner collects $HOSTNETD_VM_OUT/*; by hand (outside a VM) results go to /tmp.
const outDir = process.env.HOSTNETD_VM_OUT ?? '/tmp';

export default defineConfig({
  root,
  test: {
    include: ['test/vm/inner/**/*.inner.ts'],
    // All files of a suite share the VM's NICs and modules: one file at a time.
    fileParallelism: false,
    // Everything under TCG runs several times slower than on the host, and much slower again
    // on a loaded machine (a bond, a VLAN and three networks took over 60 s at load 15): the
    // outer run bounds the whole VM anyway (suite.ts, 10 min by default).
    testTimeout: 240_000,
    hookTimeout: 240_000,
    // failures.json carries each failure's own message and inner line to the outer run (see inner-failures.ts)
    reporters: ['default', ['json', { outputFile: join(outDir, 'vitest.json') }], new InnerFailuresReporter(join(outDir, 'failures.json'), root.replace(/\/$/, ''))],
    includeTaskLocation: true,
  },
});
