// A reporter for the inner run (test/vm/vitest.inner.config.ts): every failed inner test with
// its errors' own messages, diffs and the inner line that failed, in `failures.json` beside the
// JSON report. The JSON reporter's failureMessages are the errors' stacks, and vitest 4 builds a
// timeout's stack from a placeholder error: a test that timed out in the VM would reach the
// outer run as "Error: STACK_TRACE_ERROR". suite.ts reads this file first.
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestCase, TestModule } from 'vitest/node';

/** One failed inner test, as suite.ts reads it. */
export interface InnerFailure {
  /** repo-relative inner file */
  file: string;
  ancestors: string[];
  title: string;
  errors: InnerError[];
}

export interface InnerError {
  name: string;
  message: string;
  diff?: string;
  /** where in the inner files it failed: the first frame in the repo outside node_modules */
  at?: { file: string; line: number; column: number };
}

interface ErrorLike { name?: string; message?: string; diff?: string; stack?: string; stacks?: { file: string; line: number; column: number }[] }

export default class InnerFailuresReporter implements Reporter {
  constructor(private readonly outFile: string, private readonly root: string) {}

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const failures: InnerFailure[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const r = t.result();
        if (r.state !== 'failed') continue;
        failures.push({
          file: relative(this.root, m.moduleId),
          ancestors: ancestorsOf(t),
          title: t.name,
          errors: (r.errors ?? []).map((e) => this.errorOf(e as ErrorLike, t)),
        });
      }
    }
    writeFileSync(this.outFile, JSON.stringify(failures, null, 1));
  }

  private errorOf(e: ErrorLike, t: TestCase): InnerError {
    const at = this.frameOf(e) ?? (t.location ? { file: relative(this.root, t.module.moduleId), ...t.location } : undefined);
    return {
      name: e.name || 'Error',
      message: e.message ?? String(e),
      ...(e.diff ? { diff: e.diff } : {}),
      ...(at ? { at } : {}),
    };
  }

  private frameOf(e: ErrorLike): InnerError['at'] {
    const frames = e.stacks?.length ? e.stacks : parseFrames(e.stack ?? '');
    for (const f of frames) {
      const file = f.file.replace(/^file:\/\//, '');
      if (!file.startsWith(this.root + '/') || file.includes('/node_modules/')) continue;
      return { file: relative(this.root, file), line: f.line, column: f.column };
    }
    return undefined;
  }
}

function ancestorsOf(t: TestCase): string[] {
  const names: string[] = [];
  for (let p = t.parent; p.type === 'suite'; p = p.parent) names.unshift(p.name);
  return names;
}

function parseFrames(stack: string): { file: string; line: number; column: number }[] {
  const frames = [];
  for (const line of stack.split('\n')) {
    const m = /^\s*at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/.exec(line);
    if (m) frames.push({ file: m[1]!, line: Number(m[2]), column: Number(m[3]) });
  }
  return frames;
}
