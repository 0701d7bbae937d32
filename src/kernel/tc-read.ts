/**
 * Traffic control of the devices hostQos manages, read in-process over rtnetlink on a socket
 * of its own: one qdisc dump for all devices, then the classes and the root's filters of each
 * device that has a root qdisc. The kernel's own numbers are kept (HFSC rates in bytes per
 * second): `tc`'s text rounds them ("3Mbit" for 3.2 Mbit), and its -j output of an hfsc class
 * is not JSON at all in iproute2 6.1.
 */
import type { Iproute } from './iproute.js';
import { dumpOnce, openRtnl, type RtnlMsg, type TcMsg } from './netlink.js';
import type { DeviceTc, KernelState } from '../model/kernel-state.js';
import { dict, getKey } from '../model/dict.js';

const TC_H_ROOT = 0xffffffff;
const TC_H_INGRESS = 0xfffffff1;

/** tc's spelling of a handle: '1389:' for a qdisc (minor 0), '1389:a' for a class */
export function handleText(h: number): string {
  if (h === TC_H_ROOT) return 'root';
  if (h === TC_H_INGRESS) return 'ingress';
  const maj = (h >>> 16).toString(16);
  const min = h & 0xffff;
  return min === 0 ? `${maj}:` : `${maj}:${min.toString(16)}`;
}

/** Pure: the messages of the dumps → one DeviceTc per device index. */
export function tcFromMessages(msgs: readonly RtnlMsg[]): Map<number, DeviceTc> {
  const out = new Map<number, DeviceTc>();
  const of = (ifindex: number) => {
    let d = out.get(ifindex);
    if (!d) out.set(ifindex, (d = { qdiscs: [], classes: [], filters: [] }));
    return d;
  };
  for (const m of msgs) {
    if (m.t !== 'qdisc' && m.t !== 'class' && m.t !== 'filter') continue;
    const tc = m as TcMsg;
    const dev = of(tc.ifindex);
    const kind = tc.kind ?? '';
    if (tc.t === 'qdisc') {
      if (tc.parent === TC_H_ROOT) {
        dev.root = { kind, handle: handleText(tc.handle), ...(tc.hfscDefault !== undefined ? { hfscDefault: tc.hfscDefault } : {}) };
      } else {
        dev.qdiscs.push({ kind, handle: handleText(tc.handle), parent: handleText(tc.parent) });
      }
    } else if (tc.t === 'class') {
      // the qdisc's own root class has no parent class; it is not one of ours
      if (tc.parent === TC_H_ROOT) continue;
      dev.classes.push({ handle: handleText(tc.handle), parent: handleText(tc.parent), kind, ...(tc.hfsc ?? {}) });
    } else if (tc.prio !== undefined && kind !== '') {
      // u32 dumps its hash table and each node; only the node carries the class id
      const seen = dev.filters.find((f) => f.prio === tc.prio && f.kind === kind);
      const classid = tc.classid !== undefined ? handleText(tc.classid) : undefined;
      if (seen) {
        if (classid !== undefined) seen.classid = classid;
      } else {
        dev.filters.push({ prio: tc.prio, kind, ...(classid !== undefined ? { classid } : {}) });
      }
    }
  }
  return out;
}

/**
 * The tc state of `devices` (names; those missing from `state` are left out). A device with
 * the kernel's default root qdisc reads as {qdiscs: [], classes: [], filters: []} without root.
 */
export function readTc(ipr: Pick<Iproute, 'netns'>, state: Pick<KernelState, 'links'>, devices: Iterable<string>): Record<string, DeviceTc> {
  const out = dict<DeviceTc>();
  const wanted = [...new Set(devices)].filter((d) => getKey(state.links, d) !== undefined);
  if (wanted.length === 0) return out;
  const sock = openRtnl({ subscribe: false, ...(ipr.netns !== undefined ? { netns: ipr.netns } : {}) });
  try {
    let seq = 1;
    const msgs: RtnlMsg[] = [...dumpOnce(sock, 'qdisc', seq++)];
    const byIndex = tcFromMessages(msgs);
    for (const name of wanted) {
      const ifindex = state.links[name]!.ifindex;
      const root = byIndex.get(ifindex)?.root;
      // a device with the kernel's default qdisc has no classes or filters of ours to read
      if (root && root.handle !== '0:') {
        msgs.push(...dumpOnce(sock, 'class', seq++, {}, ifindex));
        // no parent: the root qdisc's filters
        msgs.push(...dumpOnce(sock, 'filter', seq++, {}, ifindex));
      }
    }
    const all = tcFromMessages(msgs);
    for (const name of wanted) {
      const dev = all.get(state.links[name]!.ifindex) ?? { qdiscs: [], classes: [], filters: [] };
      out[name] = dev;
    }
    return out;
  } finally {
    sock.close();
  }
}
