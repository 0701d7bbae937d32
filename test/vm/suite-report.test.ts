// Host-only (no VM): how one VM run becomes outer tests. The point is that nothing a broken
// VM or inner run can do ends up as a silent pass.
import { describe, expect, it } from 'vitest';
import { planOuterTests } from './suite.js';
import { REPO_ROOT, splitConsole, commandScript, type VmRunResult } from './vm.js';

const FILE = 'test/vm/inner/x.inner.ts';

function vmResult(over: Partial<VmRunResult> = {}): VmRunResult {
  return { exitCode: 0, output: '', console: 'boot\nline\n', outFiles: {}, timedOut: false, durationMs: 1000, ...over };
}

function report(testResults: unknown[]): Record<string, string> {
  return { 'vitest.json': JSON.stringify({ testResults }) };
}

function fileResult(assertionResults: unknown[], status = 'passed', message = ''): unknown {
  return { name: `${REPO_ROOT}/${FILE}`, status, message, assertionResults };
}

function assertion(title: string, status: string, failureMessages: string[] = [], ancestorTitles = ['group']): unknown {
  return { ancestorTitles, title, status, failureMessages };
}

describe('planOuterTests', () => {
  it('turns a VM that never reported into one failing test carrying the console', () => {
    const tests = planOuterTests([FILE], vmResult({ exitCode: null, console: 'SeaBIOS\nvm-init: FATAL: mount hostroot\n' }));
    expect(tests).toHaveLength(1);
    expect(tests[0]).toMatchObject({ outcome: 'fail' });
    expect(tests[0]!.message).toContain('did not report an exit status');
    expect(tests[0]!.message).toContain('vm-init: FATAL: mount hostroot');
  });

  it('says so when the run timed out', () => {
    const [t] = planOuterTests([FILE], vmResult({ exitCode: null, timedOut: true, durationMs: 90_000 }));
    expect(t!.message).toContain('timed out after 90s');
  });

  it('fails when the inner run exited without a JSON report', () => {
    const [t] = planOuterTests([FILE], vmResult({ exitCode: 1, outFiles: { 'vitest.json': '{not json' } }));
    expect(t).toMatchObject({ outcome: 'fail' });
    expect(t!.message).toContain('exited with 1');
  });

  it('mirrors each inner test with its place, outcome and failure message; a skip or todo inside fails', () => {
    const tests = planOuterTests([FILE], vmResult({
      exitCode: 1,
      outFiles: report([fileResult([
        assertion('works', 'passed'),
        assertion('breaks', 'failed', ['AssertionError: expected 1 to be 2']),
        assertion('later', 'todo'),
      ], 'failed')]),
    }));
    expect(tests).toEqual([
      { suite: [FILE, 'group'], name: 'works', outcome: 'pass' },
      { suite: [FILE, 'group'], name: 'breaks', outcome: 'fail', message: 'AssertionError: expected 1 to be 2' },
      { suite: [FILE, 'group'], name: 'later', outcome: 'fail', message: 'the test was todo inside the VM; VM-tier tests must run' },
    ]);
  });

  it('carries an inner failure through with its own message, diff and inner line (failures.json), not the stack vitest made up', () => {
    // vitest 4's JSON report gives a timeout the stack of a placeholder error
    const timeout = 'Test timed out in 240000ms.\nIf this is a long-running test, pass a timeout value as the last argument or configure it globally with "testTimeout".';
    const tests = planOuterTests([FILE], vmResult({
      exitCode: 1,
      outFiles: {
        ...report([fileResult([
          assertion('hangs', 'failed', ['Error: STACK_TRACE_ERROR\n    at /x/node_modules/@vitest/runner/dist/index.js:1:1']),
          assertion('differs', 'failed', ['AssertionError: expected 1 to be 2\n    at stack']),
          assertion('unlisted', 'failed', ['Error: from the JSON report']),
        ], 'failed')]),
        'failures.json': JSON.stringify([
          { file: FILE, ancestors: ['group'], title: 'hangs', errors: [{ name: 'Error', message: timeout, at: { file: FILE, line: 26, column: 1 } }] },
          { file: FILE, ancestors: ['group'], title: 'differs', errors: [{ name: 'AssertionError', message: 'mtu: expected 1 to be 2', diff: '\u001b[32m- Expected\u001b[39m\n- 2\n+ 1', at: { file: FILE, line: 40, column: 7 } }] },
          { file: FILE, ancestors: ['other group'], title: 'unlisted', errors: [{ name: 'Error', message: 'a test of the same name elsewhere' }] },
        ]),
      },
    }));
    expect(tests[0]).toEqual({
      suite: [FILE, 'group'], name: 'hangs', outcome: 'fail',
      message: `${timeout}\n    at ${FILE}:26:1 (inside the VM)`, at: { file: FILE, line: 26, column: 1 },
    });
    expect(tests[0]!.message).not.toContain('STACK_TRACE_ERROR');
    expect(tests[1]!.message).toBe(`AssertionError: mtu: expected 1 to be 2\n- Expected\n- 2\n+ 1\n    at ${FILE}:40:7 (inside the VM)`);
    // a failure the inner reporter did not list keeps the JSON report's message
    expect(tests[2]).toEqual({ suite: [FILE, 'group'], name: 'unlisted', outcome: 'fail', message: 'Error: from the JSON report' });
  });

  it('fails a requested file missing from the report', () => {
    const other = 'test/vm/inner/y.inner.ts';
    const tests = planOuterTests([FILE, other], vmResult({ outFiles: report([fileResult([assertion('a', 'passed')])]) }));
    expect(tests.map((t) => [t.name, t.outcome])).toEqual([['a', 'pass'], [`${other} was not run`, 'fail']]);
  });

  it('fails a file that broke outside its tests (an import error)', () => {
    const tests = planOuterTests([FILE], vmResult({
      exitCode: 1,
      outFiles: report([fileResult([], 'failed', "Cannot find module './nope.js'")]),
    }));
    expect(tests).toHaveLength(1);
    expect(tests[0]).toMatchObject({ name: `${FILE} failed to run`, outcome: 'fail' });
    expect(tests[0]!.message).toContain("Cannot find module './nope.js'");
  });

  it('fails a file without tests, and a non-zero exit with no failing test', () => {
    const empty = planOuterTests([FILE], vmResult({ outFiles: report([fileResult([])]) }));
    expect(empty.map((t) => t.outcome)).toEqual(['fail']);
    const odd = planOuterTests([FILE], vmResult({ exitCode: 3, outFiles: report([fileResult([assertion('a', 'passed')])]) }));
    expect(odd.map((t) => [t.name, t.outcome])).toEqual([['a', 'pass'], ['inner vitest run', 'fail']]);
  });
});

describe('the runner’s pure parts', () => {
  it('cuts the command output out of the console and reads the marker status', () => {
    const consoleText = 'BIOS\nkernel\n@@HOSTNETD-VM-BEGIN@@\nhello\nno newline@@HOSTNETD-VM-END rc=7@@\n[ 1.0] reboot\n';
    expect(splitConsole(consoleText)).toEqual({ output: 'hello\nno newline', markerExitCode: 7 });
    expect(splitConsole('BIOS\n@@HOSTNETD-VM-BEGIN@@\nhalf')).toEqual({ output: 'half', markerExitCode: null });
    expect(splitConsole('kernel panic')).toEqual({ output: '', markerExitCode: null });
  });

  it('quotes argv and environment into the guest script', () => {
    const script = commandScript({ command: ['echo', "it's", '$HOME'], env: { A_B: 'x y' }, cwd: '/work/main' });
    expect(script).toContain("cd '/work/main' || exit 125");
    expect(script).toContain("export A_B='x y'");
    expect(script).toContain(`exec 'echo' 'it'\\''s' '$HOME'`);
    expect(() => commandScript({ command: ['true'], env: { 'A;rm': '1' } })).toThrow(/bad environment variable/);
  });
});
