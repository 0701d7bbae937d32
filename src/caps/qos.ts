/**
 * hostQos in the capabilities, read from the kernel as VDSM's netinfo/qos.py does: a network's
 * `hostQos` is its HFSC class on its nic or bond (1389:<vlan hex>, or 1389:1388 untagged) in
 * the API's units, and the nic or bond lists them as `qos: [{hostQos, vlan}]` (vlan -1 for the
 * untagged one, sorted by vlan; VDSM's netinfo/cache.py). Reported for the networks whose
 * running config has hostQos (VDSM also reports the default class for an untagged network
 * without QoS on a shaped device). Pure.
 */
import type { DeviceTc } from '../model/kernel-state.js';
import { getKey } from '../model/dict.js';
import type { Network } from '../model/types.js';
import { apiCurve, QOS_DEFAULT_MINOR, QOS_ROOT } from '../model/qos.js';

export type HostQosReport = { out: Record<string, { m1: number; d: number; m2: number }> };

export function networkQos(net: Network, tc: Record<string, DeviceTc> | undefined): HostQosReport | undefined {
  const base = net.nic ?? net.bonding;
  if (!net.hostQos || base === undefined || !tc) return undefined;
  const dev = getKey(tc, base);
  if (dev?.root?.kind !== 'hfsc' || dev.root.handle !== QOS_ROOT) return undefined;
  const handle = `${QOS_ROOT}${(net.vlan ?? QOS_DEFAULT_MINOR).toString(16)}`;
  const cls = dev.classes.find((c) => c.kind === 'hfsc' && c.handle === handle);
  if (!cls) return undefined;
  const out: HostQosReport['out'] = {};
  for (const k of ['ls', 'ul', 'rt'] as const) {
    const c = cls[k];
    if (c) out[k] = apiCurve(c, k);
  }
  return { out };
}

/** Adds `qos` to the nics and bonds that carry a reported network hostQos. */
export function addDeviceQos(
  reports: { net: Network; hostQos: HostQosReport }[], nics: Record<string, Record<string, unknown>>, bondings: Record<string, Record<string, unknown>>,
): void {
  for (const { net, hostQos } of reports) {
    const base = (net.nic ?? net.bonding)!;
    const dev = getKey(nics, base) ?? getKey(bondings, base);
    if (!dev) continue;
    const list = (dev.qos ??= []) as { hostQos: HostQosReport; vlan: number }[];
    list.push({ hostQos, vlan: net.vlan ?? -1 });
    list.sort((a, b) => a.vlan - b.vlan);
  }
}
