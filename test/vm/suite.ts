// VM suites: inner vitest files run inside ONE boot of the VM tier, and every inner test
// becomes a test of the outer run, so it is counted in the outer summary.
//
//   // test/vm/bonds.test.ts
//   import { defineVmSuite } from './suite.js';
//   await defineVmSuite({ nics: 4, files: ['test/vm/inner/bonds.inner.ts'] });
//
// The top-level await boots the VM while vitest collects the file (collection has no
// timeout in vitest 4); the tests are then declared from the inner JSON report. A VM that
// does not boot, an inner file that fails to load or is not run, or an inner run that exits
// non-zero without a failing test all become failing outer tests carrying the console.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, inject, it } from 'vitest';
import type { InnerError, InnerFailure } from './inner-failures.js';
import { REPO_ROOT, runInVm, type VmRunResult } from './vm.js';

export interface VmSuiteOptions {
  /** virtio NICs: the inner tests see eth0..eth(nics-1). */
  nics: number;
  /** Repo-relative inner test files (`test/vm/inner/*.inner.ts`), all run in one boot. */
  files: string[];
  /** Host directory mounted at /vmshare; kept across boots (see runInVm). */
  shareDir?: string;
  /** Whole VM run, boot to power-off. Default 10 minutes. */
  timeoutMs?: number;
  memoryMb?: number;
  env?: Record<string, string>;
  /** systemd as PID 1, and a script run before it (see runInVm) */
  systemd?: boolean;
  preSystemd?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** set by vitest.config.ts for `vitest list`: collect without booting */
    vmListOnly: boolean;
  }
}

/** `vitest list` is collecting: suites declare their inner files instead of booting a VM. */
export const listingOnly = (): boolean => inject('vmListOnly') === true;

const INNER_CONFIG = 'test/vm/vitest.inner.config.ts';
const CONSOLE_TAIL_LINES = 80;

export async function defineVmSuite(opts: VmSuiteOptions): Promise<void> {
  for (const file of opts.files) {
    if (!file.endsWith('.inner.ts') || file.startsWith('/')) {
      throw new Error(`inner test files are repo-relative *.inner.ts paths, got ${file}`);
    }
  }
  if (listingOnly()) {
    for (const file of opts.files) {
      it(`${file} (its tests are known once a VM has run them)`, () => {
        throw new Error('declared by `vitest list` only');
      });
    }
    return;
  }
  const result = await runInVm({
    nics: opts.nics,
    command: ['node', 'node_modules/vitest/vitest.mjs', 'run', '--config', INNER_CONFIG, ...opts.files],
    cwd: REPO_ROOT,
    timeoutMs: opts.timeoutMs ?? 10 * 60_000,
    ...(opts.shareDir !== undefined && { shareDir: opts.shareDir }),
    ...(opts.memoryMb !== undefined && { memoryMb: opts.memoryMb }),
    ...(opts.systemd && { systemd: true }),
    ...(opts.preSystemd !== undefined && { preSystemd: opts.preSystemd }),
    // The guest console is a tty, but nobody watches it live: plain, colourless reporter
    // output keeps the saved console and the failure messages readable.
    env: { CI: 'true', NO_COLOR: '1', ...opts.env },
  });
  const logFile = await saveConsole(opts.files, result);
  declareTests(planOuterTests(opts.files, result, logFile));
}

/** One outer test: where it sits (describe names), its name and what it reports. */
export interface OuterTest {
  suite: string[];
  name: string;
  outcome: 'pass' | 'fail';
  message?: string;
  /** the inner line that failed (repo-relative), shown by the outer report as the failure's place */
  at?: { file: string; line: number; column: number };
}

// The parts of vitest's JSON report (JsonTestResults) this file reads.
interface InnerReport {
  testResults: Array<{
    name: string;
    status: string;
    message: string;
    assertionResults: Array<{ ancestorTitles: string[]; title: string; status: string; failureMessages: string[] | null }>;
  }>;
}

/** Pure: turns one VM run into the outer tests to declare. */
export function planOuterTests(files: string[], result: VmRunResult, logFile?: string): OuterTest[] {
  const where = logFile ? `\n(full console: ${logFile})` : '';
  const runFailure = (name: string, why: string): OuterTest => ({
    suite: ['vm'],
    name,
    outcome: 'fail',
    message: `${why}\n--- last lines of the VM console ---\n${tail(result.console)}${where}`,
  });

  const report = parseReport(result.outFiles['vitest.json']);
  if (!report) {
    const why = result.timedOut
      ? `the VM run timed out after ${Math.round(result.durationMs / 1000)}s`
      : result.exitCode === null
        ? 'the VM did not report an exit status (boot failure or crash)'
        : `the inner vitest exited with ${result.exitCode} and wrote no JSON report`;
    return [runFailure(`VM run of ${files.join(', ')}`, why)];
  }

  const failures = parseFailures(result.outFiles['failures.json']);
  const tests: OuterTest[] = [];
  for (const file of files) {
    const fileResult = report.testResults.find((r) => r.name === join(REPO_ROOT, file) || r.name.endsWith('/' + file));
    if (!fileResult) {
      tests.push(runFailure(`${file} was not run`, `the inner report has no results for ${file}`));
      continue;
    }
    for (const a of fileResult.assertionResults) {
      const test: OuterTest = { suite: [file, ...a.ancestorTitles], name: a.title, outcome: outcomeOf(a.status) };
      if (test.outcome === 'fail') {
        const own = failures.find((f) => f.file === file && f.title === a.title && same(f.ancestors, a.ancestorTitles));
        if (own && own.errors.length > 0 && a.status === 'failed') {
          test.message = own.errors.map(describeError).join('\n\n');
          if (own.errors[0]!.at) test.at = own.errors[0]!.at;
        } else {
          test.message = failureOf(a.status, a.failureMessages);
        }
      }
      tests.push(test);
    }
    const failedTests = fileResult.assertionResults.some((a) => a.status === 'failed');
    if (fileResult.status === 'failed' && !failedTests) {
      tests.push(runFailure(`${file} failed to run`, fileResult.message || 'the inner file failed outside its tests'));
    } else if (fileResult.assertionResults.length === 0) {
      tests.push(runFailure(`${file} has no tests`, 'an inner file without tests proves nothing'));
    }
  }
  if (result.exitCode !== 0 && !tests.some((t) => t.outcome === 'fail')) {
    tests.push(runFailure('inner vitest run', `the inner vitest exited with ${result.exitCode} although no test failed`));
  }
  return tests;
}

/** Anything but passed fails: the VM tier exists to run what the host cannot, so a skip there hides a missing feature. */
function outcomeOf(status: string): OuterTest['outcome'] {
  return status === 'passed' ? 'pass' : 'fail';
}

function failureOf(status: string, messages: string[] | null | undefined): string {
  if (status === 'failed') return (messages ?? []).join('\n') || 'inner status failed';
  return `the test was ${status} inside the VM; VM-tier tests must run`;
}

/** An inner error as the outer report shows it: its own message and diff, then where it failed. */
function describeError(e: InnerError): string {
  const head = e.name && e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message;
  const diff = e.diff ? `\n${stripAnsi(e.diff)}` : '';
  const at = e.at ? `\n    at ${e.at.file}:${e.at.line}:${e.at.column} (inside the VM)` : '';
  return head + diff + at;
}

const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;]*m/g, '');

const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** failures.json (inner-failures.ts); absent or unreadable: the JSON report's messages stand. */
function parseFailures(text: string | undefined): InnerFailure[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? (v as InnerFailure[]) : [];
  } catch {
    return [];
  }
}

function parseReport(text: string | undefined): InnerReport | undefined {
  if (!text) return undefined;
  try {
    const report = JSON.parse(text) as InnerReport;
    return Array.isArray(report.testResults) ? report : undefined;
  } catch {
    return undefined;
  }
}

function tail(text: string): string {
  return text.trimEnd().split('\n').slice(-CONSOLE_TAIL_LINES).join('\n');
}

/** Keeps the last console of each suite next to the VM cache, for a human to read. */
async function saveConsole(files: string[], result: VmRunResult): Promise<string | undefined> {
  try {
    const dir = join(process.env.HOSTNETD_VM_CACHE ?? join(REPO_ROOT, '.cache/vm'), 'logs');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${files.map((f) => basename(f, '.inner.ts')).join('+')}.console.log`);
    await writeFile(file, result.console);
    return file;
  } catch {
    return undefined;
  }
}

export function declareTests(tests: OuterTest[]): void {
  // Nest describes by the suite path, keeping the inner order.
  const declareLevel = (level: OuterTest[], depth: number): void => {
    let i = 0;
    while (i < level.length) {
      const t = level[i]!;
      if (t.suite.length === depth) {
        declareOne(t);
        i++;
        continue;
      }
      const name = t.suite[depth]!;
      const group: OuterTest[] = [];
      while (i < level.length && level[i]!.suite.length > depth && level[i]!.suite[depth] === name) {
        group.push(level[i]!);
        i++;
      }
      describe(name, () => declareLevel(group, depth + 1));
    }
  };
  declareLevel(tests, 0);
}

function declareOne(t: OuterTest): void {
  if (t.outcome === 'fail') {
    const message = t.message ?? 'failed in the VM';
    const at = t.at;
    it(t.name, () => {
      const err = new Error(message);
      // The inner line as the only frame: the outer report points at it, not at this file.
      if (at) err.stack = `Error: ${message}\n    at ${join(REPO_ROOT, at.file)}:${at.line}:${at.column}`;
      throw err;
    });
  } else {
    it(t.name, () => {});
  }
}
