// The test tiers are vitest projects. scripts/test.sh (`npm test`) runs them one after another
// (`--project NAME`) and times each; a bare `npx vitest run` runs them all, the VM tier last
// (groupOrder) and one file at a time: its files boot TCG guests that would otherwise compete
// for the 2 cores with the namespace tests' timing.
import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const TIERS = {
  unit: ['test/unit/**/*.test.ts', 'test/vm/suite-report.test.ts'],
  integration: ['test/integration/**/*.test.ts'],
  libvirt: ['test/libvirt/**/*.test.ts'],
  package: ['test/package/**/*.test.ts'],
  vm: ['test/vm/*.test.ts'],
} as const;

// A test file no tier includes would never run: refuse it here rather than lose it.
const orphans = readdirSync('test', { recursive: true, encoding: 'utf8' })
  .map((f) => `test/${f}`)
  .filter((f) => f.endsWith('.test.ts') && !/^test\/(unit|integration|libvirt|package)\//.test(f) && !/^test\/vm\/[^/]+\.test\.ts$/.test(f));
if (orphans.length) throw new Error(`test files outside every tier of vitest.config.ts: ${orphans.join(', ')}`);

// `vitest list` only collects: the VM suites then declare their inner files without booting
// (test/vm/suite.ts), or listing would boot every VM.
const listing = process.argv[2] === 'list';

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      ...(['unit', 'integration', 'libvirt', 'package'] as const).map((name) => ({
        extends: true as const,
        test: { name, include: [...TIERS[name]] },
      })),
      {
        extends: true,
        test: {
          name: 'vm',
          include: [...TIERS.vm],
          exclude: ['test/vm/suite-report.test.ts'],
          fileParallelism: false,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
          provide: { vmListOnly: listing },
        },
      },
    ],
  },
});
