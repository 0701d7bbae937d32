/**
 * Port mirroring on a network's bridge with tc, as VDSM's network/tc does it: an ingress qdisc
 * and a root qdisc on the bridge, each with one match-everything u32 filter whose actions are
 * `mirred egress mirror dev TAP`, one per mirror tap, and the bridge in promiscuous mode (so
 * frames the bridge forwards between two ports also pass its own ingress). Ingress then sees
 * every frame entering the bridge, the root qdisc every frame the host sends through it.
 *
 * The root qdisc is `htb` where VDSM uses `prio`: prio is a module that kernels without loadable
 * modules may lack, htb is common, and an htb without classes sends everything straight through
 * (direct_qlen raised from the bridge's txqueuelen of 0, which htb would round up to 2).
 *
 * Pure core: planMirror() (current tc view + wanted taps → tc batch lines and the promisc flag),
 * parseTc(). Shell: readBridgeTc(), runMirrorPlan() (one `tc -batch` and at most one `ip link`).
 */
import type { Iproute } from '../kernel/iproute.js';
import { isIprouteError } from '../kernel/iproute.js';
import { ErrorCode, HostnetError } from '../errors.js';

/** our filter, the same under both qdiscs (each qdisc has its own u32 tables) */
const PREF = '49';
const HANDLE = '800::800';
const ROOT_HANDLE = '1:';
const ROOT_QDISC = `root handle ${ROOT_HANDLE} htb direct_qlen 1000`;
const INGRESS = 'ffff:';

/** What tc and the link flags say about one bridge, as far as mirroring is concerned. */
export interface BridgeTc {
  ingressQdisc: boolean;
  /** ours = an htb with handle 1:; other = a root qdisc hostnetd did not make */
  root: 'ours' | 'none' | 'other';
  /** mirred targets of our filter under ingress / the root qdisc ('*' where the tap was deleted) */
  ingressTargets: string[];
  egressTargets: string[];
  promisc: boolean;
}

export interface MirrorPlan {
  /** lines for `tc -batch -` (empty: nothing to do in tc) */
  tc: string[];
  /** set the bridge's promiscuous flag to this, or leave it */
  promisc?: boolean;
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();
const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function filterLine(bridge: string, parent: string, taps: readonly string[]): string {
  const actions = taps.map((t) => `action mirred egress mirror dev ${t}`).join(' ');
  return `filter replace dev ${bridge} parent ${parent} protocol all pref ${PREF} handle ${HANDLE} u32 match u8 0 0 ${actions}`;
}

/**
 * The steps that take `bridge` from `cur` to mirroring exactly `taps` (none: no mirroring, and
 * the qdiscs and the promiscuous flag go). Names must be validated by the caller.
 */
export function planMirror(bridge: string, cur: BridgeTc, taps: readonly string[]): MirrorPlan {
  const want = sorted(taps);
  const tc: string[] = [];
  if (want.length === 0) {
    if (cur.ingressQdisc) tc.push(`qdisc del dev ${bridge} ingress`);
    if (cur.root === 'ours') tc.push(`qdisc del dev ${bridge} root`);
    return cur.promisc ? { tc, promisc: false } : { tc };
  }
  if (cur.root === 'other') {
    throw new HostnetError(ErrorCode.BAD_PARAMS,
      `network '${bridge}': its bridge has a root qdisc hostnetd did not make; port mirroring needs its own`);
  }
  if (!cur.ingressQdisc) tc.push(`qdisc add dev ${bridge} ingress`);
  if (cur.root === 'none') tc.push(`qdisc add dev ${bridge} ${ROOT_QDISC}`);
  if (!cur.ingressQdisc || !same(sorted(cur.ingressTargets), want)) tc.push(filterLine(bridge, INGRESS, want));
  if (cur.root === 'none' || !same(sorted(cur.egressTargets), want)) tc.push(filterLine(bridge, ROOT_HANDLE, want));
  return cur.promisc ? { tc } : { tc, promisc: true };
}

/** Whether the bridge shows exactly `taps` mirrored (none: no trace of mirroring). */
export function matches(cur: BridgeTc, taps: readonly string[]): boolean {
  if (taps.length > 0 && cur.root === 'other') return false;
  const plan = planMirror('-', cur, taps);
  return plan.tc.length === 0 && plan.promisc === undefined;
}

interface RawQdisc { kind?: string; handle?: string; root?: boolean; parent?: string }
interface RawFilter { pref?: number; options?: { fh?: string; actions?: { kind?: string; to_dev?: string }[] } }

/** The parts of `tc -j qdisc show dev B` that matter. */
export function parseQdiscs(json: string): Pick<BridgeTc, 'ingressQdisc' | 'root'> {
  const qs = (json.trim() ? JSON.parse(json) : []) as RawQdisc[];
  const rootQ = qs.find((q) => q.root === true);
  const root = !rootQ || rootQ.kind === 'noqueue' ? 'none' : rootQ.kind === 'htb' && rootQ.handle === ROOT_HANDLE ? 'ours' : 'other';
  return { ingressQdisc: qs.some((q) => q.kind === 'ingress'), root };
}

/** The mirred targets of our filter in `tc -j filter show dev B parent P`. */
export function parseTargets(json: string): string[] {
  const fs = (json.trim() ? JSON.parse(json) : []) as RawFilter[];
  const ours = fs.find((f) => String(f.pref) === PREF && f.options?.fh === HANDLE);
  return (ours?.options?.actions ?? []).filter((a) => a.kind === 'mirred').map((a) => a.to_dev ?? '*');
}

function tcOf(ipr: Iproute): NonNullable<Iproute['tc']> {
  if (!ipr.tc) throw new Error('this Iproute runs no tc');
  return ipr.tc.bind(ipr);
}

/** One bridge's mirroring state: qdiscs, our filters' targets, the promiscuous flag. Null if the bridge is gone. */
export async function readBridgeTc(ipr: Iproute, bridge: string): Promise<BridgeTc | null> {
  const tc = tcOf(ipr);
  let link: { flags?: string[] }[];
  try {
    link = JSON.parse((await ipr.ip(['-j', 'link', 'show', 'dev', bridge])) || '[]') as { flags?: string[] }[];
  } catch (e) {
    if (isIprouteError(e) && /does not exist|Cannot find device/.test(e.detail.stderr)) return null;
    throw e;
  }
  const q = parseQdiscs(await tc(['-j', 'qdisc', 'show', 'dev', bridge]));
  const ingressTargets = q.ingressQdisc ? parseTargets(await tc(['-j', 'filter', 'show', 'dev', bridge, 'parent', INGRESS])) : [];
  const egressTargets = q.root === 'ours' ? parseTargets(await tc(['-j', 'filter', 'show', 'dev', bridge, 'parent', ROOT_HANDLE])) : [];
  return { ...q, ingressTargets, egressTargets, promisc: link[0]?.flags?.includes('PROMISC') ?? false };
}

/** The bridges that have an ingress qdisc (one `tc` for all devices): where mirrors may be left over. */
export async function bridgesWithIngress(ipr: Iproute): Promise<Set<string>> {
  const qs = JSON.parse((await tcOf(ipr)(['-j', 'qdisc', 'show'])) || '[]') as (RawQdisc & { dev?: string })[];
  return new Set(qs.filter((q) => q.kind === 'ingress' && q.dev !== undefined).map((q) => q.dev!));
}

/** Runs a plan: one `tc -batch` (with -force on an undo: restore as much as possible), then the promisc flag. */
export async function runMirrorPlan(ipr: Iproute, bridge: string, plan: MirrorPlan, opts: { force?: boolean } = {}): Promise<void> {
  if (plan.tc.length > 0) {
    try {
      await tcOf(ipr)([...(opts.force ? ['-force'] : []), '-batch', '-'], { input: `${plan.tc.join('\n')}\n` });
    } catch (e) {
      if (!isIprouteError(e)) throw e;
      const n = Number(/Command failed -:(\d+)/.exec(e.detail.stderr)?.[1] ?? 0);
      const reason = e.detail.stderr.split('\n').filter((l) => l && !l.startsWith('Command failed')).join('; ') || e.message;
      const line = n > 0 ? ` '${plan.tc[n - 1]}'` : '';
      throw new HostnetError(ErrorCode.APPLY_FAILED, `network '${bridge}': tc refused${line}: ${reason}`, { cause: e });
    }
  }
  if (plan.promisc !== undefined) await ipr.ip(['link', 'set', 'dev', bridge, 'promisc', plan.promisc ? 'on' : 'off']);
}
