/**
 * The only place that changes the kernel: a plan runs as one `ip -batch -` process. ip stops
 * at the first failing line and names it ("Command failed -:N"), which maps back to the op.
 */
import { ErrorCode, HostnetError } from '../errors.js';
import type { Op } from '../model/op.js';
import { renderBatch } from './batch.js';
import { iprouteError, isIprouteError, type Iproute, type IprouteFailure } from './iproute.js';
import { faultPoint, killSelf, type FaultRule } from '../faults.js';

export interface ExecuteOptions {
  /** keep going past failing lines (rollback: restore as much as possible) */
  force?: boolean;
  /** the test-only fault point of these batches (faults.ts; default `batch`, a change's) */
  faultPoint?: string;
}

export async function executePlan(ipr: Iproute, ops: readonly Op[], opts: ExecuteOptions = {}): Promise<void> {
  if (ops.length === 0) return;
  // `ip rule` takes its family from -6 alone (it does not infer it from the prefix as `ip route`
  // does, and a batch line cannot carry -6): IPv6 rules run as a second batch after the first.
  // Rules depend on nothing else in a plan (a rule may name a table not filled yet), so the
  // order between the two batches does not matter.
  const main: number[] = [];
  const rules6: number[] = [];
  ops.forEach((op, i) => (isRule6(op) ? rules6 : main).push(i));
  let failed: unknown;
  for (const [family, part] of [[[], main], [['-6'], rules6]] as const) {
    if (part.length === 0) continue;
    try {
      await runBatch(ipr, ops, part, [...family], opts);
    } catch (e) {
      // a forced batch (rollback) does as much as it can: the other batch still runs
      if (!opts.force) throw e;
      failed ??= e;
    }
  }
  if (failed !== undefined) throw failed;
}

const isRule6 = (op: Op) => (op.op === 'rule-add' || op.op === 'rule-del') && op.family === 'inet6';

/** One `ip [-6] -batch -` for the ops at `indexes` of `ops`; a failure names the op by its index in `ops`. */
async function runBatch(ipr: Iproute, ops: readonly Op[], indexes: readonly number[], family: string[], opts: ExecuteOptions): Promise<void> {
  const part = indexes.map((i) => ops[i]!);
  const script = renderBatch(part);
  const args = [...family, ...(opts.force ? ['-force'] : []), '-batch', '-'];
  try {
    const fault = faultPoint(opts.faultPoint ?? 'batch', { lines: script.opOfLine.length - 1, force: opts.force === true });
    if (fault?.line !== undefined) await failLine(ipr, args, script.text, fault, opts.force === true);
    else await ipr.ip(args, { input: script.text });
  } catch (e) {
    if (!isIprouteError(e)) throw e;
    throw explain(e, ops, script, indexes);
  }
}

/**
 * TEST-ONLY (see faults.ts): line K of this batch fails as the kernel would refuse it. Without
 * -force ip stops there, so lines before K run; with -force (the rollback) every other line runs.
 */
async function failLine(ipr: Iproute, args: string[], text: string, fault: FaultRule, force: boolean): Promise<void> {
  const lines = text.split('\n').slice(0, -1);
  const k = fault.line!;
  const run = force && fault.action !== 'kill' ? lines.filter((_, i) => i !== k - 1) : lines.slice(0, k - 1);
  if (run.length) await ipr.ip(args, { input: run.map((l) => `${l}\n`).join('') }).catch(() => undefined);
  if (fault.action === 'kill') killSelf();
  throw iprouteError(['ip', ...args], 1, `Error: injected fault.\nCommand failed -:${k}`);
}

/** @param indexes the script's ops, as indexes into `ops` */
function explain(e: ReturnType<typeof iprouteError> & { detail: IprouteFailure }, ops: readonly Op[], script: ReturnType<typeof renderBatch>,
  indexes: readonly number[]): HostnetError {
  const { stderr } = e.detail;
  const lineNo = /Command failed -:(\d+)/.exec(stderr)?.[1];
  const reason = stderr.split('\n').filter((l) => l && !l.startsWith('Command failed')).join('; ') || e.message;
  if (lineNo === undefined) return new HostnetError(ErrorCode.APPLY_FAILED, `ip -batch failed: ${reason}`, { cause: e });
  const n = Number(lineNo);
  const inScript = script.opOfLine[n];
  const idx = inScript === undefined ? null : indexes[inScript] ?? null;
  const line = script.text.split('\n')[n - 1] ?? '';
  const op = idx === null ? undefined : ops[idx];
  const what = op ? `${op.op} ${'dev' in op ? op.dev : ''}`.trim() : 'unknown operation';
  return new HostnetError(ErrorCode.APPLY_FAILED, `kernel refused '${line}' (${what}, step ${(idx ?? 0) + 1} of ${ops.length}): ${reason}`, { cause: e });
}
