/**
 * TEST-ONLY fault injection. Off (every call a no-op) unless the daemon was started with the
 * environment variable HOSTNETD_TEST_FAULTS naming a JSON file; production never sets it.
 *
 * Each side effect of a change passes a named point: `batch` (each `ip -batch` of a change: the
 * plan, then the rollback), `lease-batch` (the same for a lease-time sync of the DHCP source
 * routes, which counts as a change of its own), `fsync:<file>`, `rename:<file>`, `fsync-dir:<file>`, `unlink:<file>`
 * (the store's durable writes: journal.jsonl, running.json, safe.json, the resolver file),
 * `sysctl:<dev>` (IPv6 sysctl writes), `tc-batch` (each `tc -batch` of hostQos; `line` works as
 * for `batch`), `libvirt` (the libvirt mirror), and `dhcp-start:<dev>` /
 * `dhcp-stop:<dev>` (a DHCP client started or stopped by the change). Points are counted per
 * change (`reset()` runs as a change starts and re-reads the file), and every pass is logged as
 * `{"event":"fault-point","point":…,"n":…}` so a test can list the points of a change. A rule
 *   {"point": "rename:running.json", "n": 1}                       fails the 1st rename of running.json
 *   {"point": "batch", "n": 2, "line": 3}                          fails line 3 of the 2nd batch (the rollback)
 *   {"point": "fsync:journal.jsonl", "n": 2, "action": "kill"}     SIGKILLs the daemon there
 * A failing point throws what the real step would (an EIO, an iproute2 refusal, a libvirt error).
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';

export interface FaultRule {
  point: string;
  /** the n-th pass of the point within one change (1-based) */
  n: number;
  /** for `batch`: the line (1-based) of that batch that fails */
  line?: number;
  /** fail (default) or kill -9 the process at that point */
  action?: 'fail' | 'kill';
}

export const FAULTS_ENV = 'HOSTNETD_TEST_FAULTS';

let file: string | null = null;
let log: Logger | null = null;
let rules: FaultRule[] = [];
const passes = new Map<string, number>();

/** Called once at startup by the daemon's entry points: reads HOSTNETD_TEST_FAULTS, if set. */
export function enableFaultsFromEnv(logger: Logger): void {
  const f = process.env[FAULTS_ENV];
  if (!f) return;
  file = f;
  log = logger.child({ component: 'faults' });
  log.warn({ event: 'faults-enabled', file }, 'TEST-ONLY fault injection is on');
  reset();
}

/** A change starts: counters from zero, rules re-read (a test rewrites the file between changes). */
export function resetFaults(): void {
  if (file !== null) reset();
}

function reset(): void {
  passes.clear();
  try {
    const parsed = JSON.parse(readFileSync(file!, 'utf8')) as unknown;
    rules = Array.isArray(parsed) ? (parsed as FaultRule[]) : [];
  } catch {
    rules = []; // no file yet: trace only
  }
}

/**
 * Pass a point. Returns the matching rule (for `batch`, whose caller fails one line itself);
 * a `kill` rule without a line kills the process here.
 */
export function faultPoint(point: string, detail: Record<string, unknown> = {}): FaultRule | null {
  if (file === null) return null;
  const n = (passes.get(point) ?? 0) + 1;
  passes.set(point, n);
  log!.info({ event: 'fault-point', point, n, ...detail }, 'fault point');
  const rule = rules.find((r) => r.point === point && r.n === n) ?? null;
  if (rule) log!.warn({ event: 'fault-injected', ...rule }, 'injecting a fault');
  if (rule?.action === 'kill' && rule.line === undefined) killSelf();
  return rule;
}

/** Pass a point whose failure is an I/O error (store and sysctl writes). */
export function ioFaultPoint(point: string): void {
  if (faultPoint(point)) throw Object.assign(new Error(`EIO: i/o error (injected at ${point})`), { code: 'EIO' });
}

export function killSelf(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL did not end the process');
}
