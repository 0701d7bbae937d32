import { describe, expect, it } from 'vitest';
import { canonicalizeNetwork } from '../../../src/validate/request.js';
import { emptyConfig, type HostConfig, type Network } from '../../../src/model/types.js';
import { desiredQos, planQos, planQosDevice, qosMatches, qosTarget } from '../../../src/plan/qos.js';
import { apiCurve, kernelCurve } from '../../../src/model/qos.js';
import { tcFromMessages } from '../../../src/kernel/tc-read.js';
import type { DeviceTc } from '../../../src/model/kernel-state.js';
import type { RtnlMsg } from '../../../src/kernel/netlink.js';

const VDSM_QOS = { out: { ls: { m1: 4_000_000, d: 100_000, m2: 3_000_000 }, ul: { m2: 8_000_000 } } };

function config(nets: Record<string, Record<string, unknown>>): HostConfig {
  const cfg = emptyConfig();
  for (const [name, attrs] of Object.entries(nets)) cfg.networks[name] = canonicalizeNetwork(name, attrs) as Network;
  return cfg;
}
const all = () => true;

/** What the kernel shows after `planQosDevice` ran (the reader's shape), for round trips. */
function applied(want: NonNullable<ReturnType<typeof desiredQos>[string]>): DeviceTc {
  return {
    root: { kind: 'hfsc', handle: '1389:', hfscDefault: 0x1388 },
    qdiscs: Object.keys(want.classes).map((m) => ({ kind: 'fq_codel', handle: `${m}:`, parent: `1389:${m}` })),
    classes: Object.entries(want.classes).map(([m, c]) => ({ handle: `1389:${m}`, parent: '1389:', kind: 'hfsc', ...c })),
    filters: [{ prio: 5000, kind: 'u32', classid: '1389:1388' }, ...want.vlans.map((v) => ({ prio: v, kind: 'basic', classid: `1389:${v.toString(16)}` }))],
  };
}

describe('hostQos plan (VDSM layout)', () => {
  it('converts units as VDSM does: ls ×8 bits = bytes, ul/rt bits → bytes, and back', () => {
    expect(kernelCurve({ m1: 4_000_000, d: 100_000, m2: 3_000_000 }, 'ls')).toEqual({ m1: 4_000_000, d: 100_000, m2: 3_000_000 });
    expect(kernelCurve({ m2: 8_000_000 }, 'ul')).toEqual({ m1: 0, d: 0, m2: 1_000_000 });
    expect(apiCurve({ m1: 0, d: 0, m2: 1_000_000 }, 'ul')).toEqual({ m1: 0, d: 0, m2: 8_000_000 });
    expect(apiCurve({ m1: 4_000_000, d: 100_000, m2: 3_000_000 }, 'ls')).toEqual({ m1: 4_000_000, d: 100_000, m2: 3_000_000 });
  });

  it('an untagged network: its class is the default class 1389:1388, with a leaf and the match-all filter', () => {
    const want = desiredQos(config({ n1: { nic: 'eth0', hostQos: VDSM_QOS } }), emptyConfig(), all);
    expect(Object.keys(want)).toEqual(['eth0']);
    expect(want.eth0).toEqual({ classes: { 1388: { ls: { m1: 4_000_000, d: 100_000, m2: 3_000_000 }, ul: { m1: 0, d: 0, m2: 1_000_000 } } }, vlans: [] });
    expect(planQosDevice('eth0', want.eth0!, { qdiscs: [], classes: [], filters: [] })).toEqual([
      'qdisc replace dev eth0 root handle 1389: hfsc default 1388',
      'class add dev eth0 parent 1389: classid 1389:1388 hfsc ls m1 32000000bit d 100000us m2 24000000bit ul m2 8000000bit',
      'qdisc add dev eth0 parent 1389:1388 handle 1388: fq_codel',
      'filter add dev eth0 parent 1389: protocol all pref 5000 u32 match u8 0 0 flowid 1389:1388',
    ]);
  });

  it('two VLAN networks and an untagged one on one NIC: one class each, vlan filters by pref, no extra default', () => {
    const cfg = config({
      a: { nic: 'eth1', vlan: 10, hostQos: { out: { ls: { m2: 1_000_000 } } } },
      b: { nic: 'eth1', vlan: 20, hostQos: { out: { ls: { m2: 5_000_000 }, rt: { m2: 800 } } } },
    });
    const want = desiredQos(cfg, emptyConfig(), all).eth1!;
    // no untagged QoS network: the default class shares like the largest ls (VDSM's rule)
    expect(want.classes[0x1388.toString(16)]).toEqual({ ls: { m1: 0, d: 0, m2: 5_000_000 } });
    expect(want.classes.a).toEqual({ ls: { m1: 0, d: 0, m2: 1_000_000 } });
    expect(want.classes['14']).toEqual({ ls: { m1: 0, d: 0, m2: 5_000_000 }, rt: { m1: 0, d: 0, m2: 100 } });
    expect(want.vlans).toEqual([10, 20]);
    const lines = planQosDevice('eth1', want, undefined);
    expect(lines).toContain('filter add dev eth1 parent 1389: protocol all pref 10 basic match "meta(vlan eq 10)" flowid 1389:a');
    expect(lines).toContain('class add dev eth1 parent 1389: classid 1389:14 hfsc rt m2 800bit ls m2 40000000bit');
    const withUntagged = desiredQos(config({ ...Object.fromEntries(Object.entries(cfg.networks).map(([k, n]) => [k, { nic: n.nic, vlan: n.vlan, hostQos: n.hostQos }])), u: { nic: 'eth1', hostQos: { out: { ls: { m2: 7 } } } } }), emptyConfig(), all).eth1!;
    expect(withUntagged.classes['1388']).toEqual({ ls: { m1: 0, d: 0, m2: 7 } });
  });

  it('a device the kernel shows as planned needs nothing; any difference rebuilds it from our root', () => {
    const want = desiredQos(config({ a: { nic: 'eth1', vlan: 10, hostQos: VDSM_QOS } }), emptyConfig(), all).eth1!;
    const tc = applied(want);
    expect(qosMatches(want, tc)).toBe(true);
    expect(planQosDevice('eth1', want, tc)).toEqual([]);
    const edited = structuredClone(tc);
    edited.classes[0]!.ls = { m1: 0, d: 0, m2: 1 };
    const lines = planQosDevice('eth1', want, edited);
    expect(lines[0]).toBe('qdisc del dev eth1 root');
    expect(lines[1]).toBe('qdisc add dev eth1 root handle 1389: hfsc default 1388');
    const noLeaf = { ...tc, qdiscs: tc.qdiscs.slice(1) };
    expect(qosMatches(want, noLeaf)).toBe(false);
    const noFilter = { ...tc, filters: tc.filters.slice(0, 1) };
    expect(qosMatches(want, noFilter)).toBe(false);
  });

  it('QoS dropped from a network (or the network removed): our root qdisc goes, a foreign one stays', () => {
    const before = config({ a: { nic: 'eth1', hostQos: VDSM_QOS } });
    const after = config({ a: { nic: 'eth1' } });
    const want = desiredQos(after, before, all);
    expect(want).toEqual({ eth1: null });
    const ours = applied(desiredQos(before, emptyConfig(), all).eth1!);
    expect(planQos(want, { eth1: ours }, all)).toEqual(['qdisc del dev eth1 root']);
    expect(planQos(want, { eth1: { root: { kind: 'htb', handle: '1:' }, qdiscs: [], classes: [], filters: [] } }, all)).toEqual([]);
    expect(planQos(desiredQos(emptyConfig(), before, all), { eth1: ours }, all)).toEqual(['qdisc del dev eth1 root']);
    // a device that is gone (a removed bond) is left alone
    expect(planQos(want, { eth1: ours }, () => false)).toEqual([]);
  });

  it('rollback target: each device as the snapshot showed it', () => {
    const want = desiredQos(config({ a: { bonding: 'bond1', hostQos: VDSM_QOS } }), emptyConfig(), all).bond1!;
    const target = qosTarget({ bond1: applied(want), eth0: { qdiscs: [], classes: [], filters: [] } }, ['bond1', 'eth0', 'eth9']);
    expect(target.bond1).toEqual(want);
    expect(target.eth0).toBeNull();
    expect(target.eth9).toBeNull();
  });
});

describe('tc reader (netlink messages → DeviceTc)', () => {
  it('keeps the root, the leaves, hfsc classes with curves, and one filter per prio with its class', () => {
    const base = { seq: 1, mine: true, del: false, replace: false } as const;
    // as the VM's 6.1 kernel answered for the VDSM layout (test/vm/inner/qos.inner.ts checks it live)
    const msgs = [
      { ...base, t: 'qdisc', ifindex: 2, handle: 0x13890000, parent: 0xffffffff, kind: 'hfsc', hfscDefault: 0x1388 },
      { ...base, t: 'qdisc', ifindex: 2, handle: 0x13880000, parent: 0x13891388, kind: 'fq_codel' },
      { ...base, t: 'class', ifindex: 2, handle: 0x13890000, parent: 0xffffffff, kind: 'hfsc', hfsc: {} },
      { ...base, t: 'class', ifindex: 2, handle: 0x1389000a, parent: 0x13890000, kind: 'hfsc', hfsc: { rt: { m1: 400000, d: 1234, m2: 125 }, ls: { m1: 0, d: 0, m2: 1000000 } } },
      { ...base, t: 'filter', ifindex: 2, handle: 0, parent: 0x13890000, kind: 'u32', prio: 5000, protocol: 3 },
      { ...base, t: 'filter', ifindex: 2, handle: 0x800800, parent: 0x13890000, kind: 'u32', prio: 5000, protocol: 3, classid: 0x13891388 },
      { ...base, t: 'filter', ifindex: 2, handle: 1, parent: 0x13890000, kind: 'basic', prio: 10, protocol: 3, classid: 0x1389000a },
      { ...base, t: 'qdisc', ifindex: 3, handle: 0, parent: 0xffffffff, kind: 'pfifo_fast' },
    ] as RtnlMsg[];
    const tc = tcFromMessages(msgs);
    expect(tc.get(2)).toEqual({
      root: { kind: 'hfsc', handle: '1389:', hfscDefault: 5000 },
      qdiscs: [{ kind: 'fq_codel', handle: '1388:', parent: '1389:1388' }],
      classes: [{ handle: '1389:a', parent: '1389:', kind: 'hfsc', rt: { m1: 400000, d: 1234, m2: 125 }, ls: { m1: 0, d: 0, m2: 1000000 } }],
      filters: [{ prio: 5000, kind: 'u32', classid: '1389:1388' }, { prio: 10, kind: 'basic', classid: '1389:a' }],
    });
    expect(tc.get(3)).toEqual({ root: { kind: 'pfifo_fast', handle: '0:' }, qdiscs: [], classes: [], filters: [] });
  });
});
