/**
 * hostQos → traffic control on each southbound device (nic or bond), VDSM's layout
 * (lib/vdsm/network/configurators/qos.py). Pure.
 *
 *   root qdisc   hfsc, handle 1389: (5001; 0 stays free for the leaf of vlan 0), default 1388
 *   classes      1389:1388 for the untagged network (5000, above any vlan id), else the default
 *                class with ls m2 = the largest ls m2 of the device's networks; 1389:<vlan hex>
 *                for each tagged network, with its curves
 *   leaves       an fq_codel under each class, handle <class minor>:
 *   filters      pref 5000: u32 match-all → 1389:1388; pref <vlan>: basic meta(vlan eq N) → its class
 *
 * Curves are kept in the kernel's units (bytes per second, microseconds): ul and rt arrive as
 * bits, ls as a share that VDSM sends ×8 as bits, i.e. the same number of bytes.
 *
 * A device whose tc differs in anything is rebuilt whole (root deleted, everything added), as
 * VDSM's fresh configuration does: an HFSC class cannot lose a curve in place, and a class
 * cannot be deleted while a filter points at it.
 */
import type { DeviceTc, HfscCurve } from '../model/kernel-state.js';
import { dict, getKey, hasKey } from '../model/dict.js';
import type { HostConfig, Network } from '../model/types.js';
import { usableNetworks } from './desired.js';
import { kernelCurve, QOS_DEFAULT_MINOR, QOS_ROOT } from '../model/qos.js';

const DEFAULT_PREF = 5000;

/** An HFSC class as the kernel keeps it; an absent curve is not set. */
export interface QosClass {
  rt?: HfscCurve;
  ls?: HfscCurve;
  ul?: HfscCurve;
}

/** One device's wanted tc: classes by minor (hex), and the vlans that get a filter. */
export interface DeviceQos {
  classes: Record<string, QosClass>;
  vlans: number[];
}

/** Devices whose tc a change manages: the layout, or null for "none of ours". */
export type DesiredQos = Record<string, DeviceQos | null>;

const hex = (n: number) => n.toString(16);
const classMinor = (net: Network) => hex(net.vlan ?? QOS_DEFAULT_MINOR);

const baseOf = (n: Network) => n.nic ?? n.bonding;

/**
 * The wanted tc of every device that has or had a QoS network: the layout above, or null where
 * the previous config had QoS and this one has none (our root qdisc goes).
 */
export function desiredQos(desired: HostConfig, previous: HostConfig, exists: (dev: string) => boolean): DesiredQos {
  const out = dict<DeviceQos | null>();
  for (const net of Object.values(previous.networks)) {
    const base = baseOf(net);
    if (net.hostQos && base !== undefined) out[base] = null;
  }
  const byDevice = new Map<string, Network[]>();
  for (const net of usableNetworks(desired, exists)) {
    const base = baseOf(net);
    if (!net.hostQos || base === undefined) continue;
    byDevice.set(base, [...(byDevice.get(base) ?? []), net]);
  }
  for (const [dev, nets] of byDevice) {
    const classes = dict<QosClass>();
    for (const net of nets) {
      const q = net.hostQos!.out;
      const cls: QosClass = { ls: kernelCurve(q.ls, 'ls') };
      if (q.ul) cls.ul = kernelCurve(q.ul, 'ul');
      if (q.rt) cls.rt = kernelCurve(q.rt, 'rt');
      classes[classMinor(net)] = cls;
    }
    const defaultMinor = hex(QOS_DEFAULT_MINOR);
    if (!hasKey(classes, defaultMinor)) {
      // untagged traffic shares the link like the largest of the device's networks (VDSM's rule)
      classes[defaultMinor] = { ls: { m1: 0, d: 0, m2: Math.max(...nets.map((n) => kernelCurve(n.hostQos!.out.ls, 'ls').m2)) } };
    }
    out[dev] = { classes, vlans: nets.filter((n) => n.vlan !== undefined).map((n) => n.vlan!).sort((a, b) => a - b) };
  }
  return out;
}

/** Our layout as the kernel shows it, or null when the device's root is not our hfsc. */
export function qosOf(tc: DeviceTc | undefined): DeviceQos | null {
  if (!tc?.root || tc.root.kind !== 'hfsc' || tc.root.handle !== QOS_ROOT) return null;
  const classes = dict<QosClass>();
  for (const c of tc.classes) {
    if (c.kind !== 'hfsc' || c.parent !== QOS_ROOT) continue;
    const cls: QosClass = {};
    if (c.rt) cls.rt = c.rt;
    if (c.ls) cls.ls = c.ls;
    if (c.ul) cls.ul = c.ul;
    classes[c.handle.slice(QOS_ROOT.length)] = cls;
  }
  const vlans = tc.filters.filter((f) => f.kind === 'basic' && f.prio !== DEFAULT_PREF).map((f) => f.prio).sort((a, b) => a - b);
  return { classes, vlans };
}

/** Whether the device shows exactly `want` (null: no root qdisc of ours). */
export function qosMatches(want: DeviceQos | null, tc: DeviceTc | undefined): boolean {
  const cur = qosOf(tc);
  if (want === null) return cur === null;
  if (cur === null || tc!.root!.hfscDefault !== QOS_DEFAULT_MINOR) return false;
  const minors = Object.keys(want.classes).sort();
  if (minors.join() !== Object.keys(cur.classes).sort().join()) return false;
  for (const m of minors) {
    if (!sameClass(want.classes[m]!, cur.classes[m]!)) return false;
    if (!tc!.qdiscs.some((q) => q.kind === 'fq_codel' && q.parent === `${QOS_ROOT}${m}`)) return false;
  }
  const wantFilters = [
    `${DEFAULT_PREF}/u32/${QOS_ROOT}${hex(QOS_DEFAULT_MINOR)}`,
    ...want.vlans.map((v) => `${v}/basic/${QOS_ROOT}${hex(v)}`),
  ].sort();
  const curFilters = tc!.filters.map((f) => `${f.prio}/${f.kind}/${f.classid ?? ''}`).sort();
  return wantFilters.join() === curFilters.join();
}

function sameClass(a: QosClass, b: QosClass): boolean {
  return (['rt', 'ls', 'ul'] as const).every((k) => sameCurve(a[k], b[k]));
}

function sameCurve(a: HfscCurve | undefined, b: HfscCurve | undefined): boolean {
  if (!a || !b) return a === b;
  return a.m1 === b.m1 && a.m2 === b.m2 && (a.m1 === 0 || a.d === b.d);
}

/**
 * The `tc -batch` lines that take `dev` from `tc` to `want`; none when it matches. Names must
 * be validated by the caller.
 */
export function planQosDevice(dev: string, want: DeviceQos | null, tc: DeviceTc | undefined): string[] {
  if (qosMatches(want, tc)) return [];
  const ours = qosOf(tc) !== null;
  const lines: string[] = [];
  // deleting our root takes its classes, leaves and filters with it; the kernel's default comes back
  if (ours) lines.push(`qdisc del dev ${dev} root`);
  if (want === null) return lines;
  lines.push(`qdisc ${ours ? 'add' : 'replace'} dev ${dev} root handle ${QOS_ROOT} hfsc default ${hex(QOS_DEFAULT_MINOR)}`);
  const minors = Object.keys(want.classes).sort((a, b) => parseInt(a, 16) - parseInt(b, 16));
  for (const m of minors) {
    lines.push(`class add dev ${dev} parent ${QOS_ROOT} classid ${QOS_ROOT}${m} hfsc${curveWords(want.classes[m]!)}`);
    lines.push(`qdisc add dev ${dev} parent ${QOS_ROOT}${m} handle ${m}: fq_codel`);
  }
  lines.push(`filter add dev ${dev} parent ${QOS_ROOT} protocol all pref ${DEFAULT_PREF} u32 match u8 0 0 flowid ${QOS_ROOT}${hex(QOS_DEFAULT_MINOR)}`);
  for (const v of want.vlans) {
    lines.push(`filter add dev ${dev} parent ${QOS_ROOT} protocol all pref ${v} basic match "meta(vlan eq ${v})" flowid ${QOS_ROOT}${hex(v)}`);
  }
  return lines;
}

function curveWords(c: QosClass): string {
  // tc takes rates in bits and divides by 8: bytes × 8 is exact
  const words = (name: string, x: HfscCurve) => ` ${name}${x.m1 ? ` m1 ${x.m1 * 8}bit d ${x.d}us` : ''} m2 ${x.m2 * 8}bit`;
  return (c.rt ? words('rt', c.rt) : '') + (c.ls ? words('ls', c.ls) : '') + (c.ul ? words('ul', c.ul) : '');
}

/** The lines for every device of `want`, in name order. */
export function planQos(want: DesiredQos, tc: Record<string, DeviceTc>, exists: (dev: string) => boolean): string[] {
  return Object.keys(want).sort().filter(exists).flatMap((dev) => planQosDevice(dev, want[dev]!, getKey(tc, dev)));
}

/**
 * The rollback target of the devices a change touched: each as the snapshot before it showed
 * it (our layout, or none of ours). A foreign root qdisc is not put back.
 */
export function qosTarget(before: Record<string, DeviceTc>, devices: readonly string[]): DesiredQos {
  const out = dict<DeviceQos | null>();
  for (const dev of devices) out[dev] = qosOf(getKey(before, dev));
  return out;
}
