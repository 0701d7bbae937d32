import { describe, expect, it } from 'vitest';
import { ErrorCode, HostnetError } from '../../../src/errors.js';
import { canonicalizeNetwork } from '../../../src/validate/request.js';
import { HostConfigSchema } from '../../../src/model/schema.js';
import type { Network } from '../../../src/model/types.js';

const net = (attrs: Record<string, unknown>) => canonicalizeNetwork('net1', attrs) as Network;

function refusal(attrs: Record<string, unknown>): HostnetError {
  try {
    net(attrs);
  } catch (e) {
    if (e instanceof HostnetError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

// VDSM's net_qos_test.py curves
const VDSM_QOS = { out: { ls: { m1: 4_000_000, d: 100_000, m2: 3_000_000 }, ul: { m2: 8_000_000 } } };

describe('hostQos validation', () => {
  it("takes VDSM's curves and drops zeros as VDSM's kernelconfig does", () => {
    expect(net({ nic: 'eth0', hostQos: VDSM_QOS }).hostQos).toEqual(VDSM_QOS);
    const zeros = { out: { ls: { m1: 0, d: 0, m2: 1_000_000 }, ul: { m1: 0, d: 0, m2: 8_000_000 } } };
    expect(net({ nic: 'eth0', vlan: 10, hostQos: zeros }).hostQos).toEqual({ out: { ls: { m2: 1_000_000 }, ul: { m2: 8_000_000 } } });
  });

  it('treats {} and {out: {}} as no QoS, as VDSM does', () => {
    expect(net({ nic: 'eth0', hostQos: {} }).hostQos).toBeUndefined();
    expect(net({ nic: 'eth0', hostQos: { out: {} } }).hostQos).toBeUndefined();
  });

  it.each([
    ['not an object', { nic: 'eth0', hostQos: [1] }, 'hostQos must be an object'],
    ['an inbound part', { nic: 'eth0', hostQos: { in: {} } }, "unknown key 'in'"],
    ['an unknown curve', { nic: 'eth0', hostQos: { out: { sc: { m2: 1 } } } }, "unknown curve 'sc'"],
    ['ul without ls', { nic: 'eth0', hostQos: { out: { ul: { m2: 8000 } } } }, 'hostQos.out.ls is required'],
    ['rt without ls', { nic: 'eth0', hostQos: { out: { rt: { m2: 8000 } } } }, 'hostQos.out.ls is required'],
    ['m2 missing', { nic: 'eth0', hostQos: { out: { ls: { m1: 10, d: 10 } } } }, 'hostQos.out.ls.m2 is required'],
    ['m2 zero', { nic: 'eth0', hostQos: { out: { ls: { m2: 0 } } } }, 'hostQos.out.ls.m2 is required'],
    ['m1 without d', { nic: 'eth0', hostQos: { out: { ls: { m1: 10, m2: 5 } } } }, 'hostQos.out.ls.m1 needs d'],
    ['d without m1', { nic: 'eth0', hostQos: { out: { ls: { d: 10, m2: 5 } } } }, 'hostQos.out.ls.d needs m1'],
    ['a negative rate', { nic: 'eth0', hostQos: { out: { ls: { m2: -5 } } } }, 'hostQos.out.ls.m2 must be a non-negative integer'],
    ['a fraction', { nic: 'eth0', hostQos: { out: { ls: { m2: 1.5 } } } }, 'hostQos.out.ls.m2 must be a non-negative integer'],
    ['an unknown curve key', { nic: 'eth0', hostQos: { out: { ls: { m2: 5, rate: 1 } } } }, "hostQos.out.ls: unknown key 'rate'"],
    ['ls beyond u32', { nic: 'eth0', hostQos: { out: { ls: { m2: 2 ** 32 } } } }, 'hostQos.out.ls.m2 must be from 1 to 4294967295'],
    ['ul below a byte', { nic: 'eth0', hostQos: { out: { ls: { m2: 5 }, ul: { m2: 7 } } } }, 'hostQos.out.ul.m2 must be from 8'],
    ['rt above ul', { nic: 'eth0', hostQos: { out: { ls: { m2: 5 }, ul: { m2: 8000 }, rt: { m2: 16000 } } } }, 'hostQos.out.rt.m2 (16000) exceeds ul.m2 (8000)'],
    ['no nic or bonding', { hostQos: { out: { ls: { m2: 5 } } } }, "hostQos needs 'nic' or 'bonding'"],
    ['vlan 0', { nic: 'eth0', vlan: 0, hostQos: { out: { ls: { m2: 5 } } } }, 'not supported on vlan 0'],
  ])('refuses %s with 21 naming the field', (_what, attrs, words) => {
    const e = refusal(attrs);
    expect(e.code).toBe(ErrorCode.BAD_PARAMS);
    expect(e.message).toContain("network 'net1': hostQos");
    expect(e.message).toContain(words);
  });

  it('is stored: the running config schema takes it and refuses a hand-broken curve naming the field', () => {
    const good = { ...net({ nic: 'eth0', hostQos: VDSM_QOS }) };
    expect(HostConfigSchema.parse({ networks: { net1: good }, bonds: {} }).networks.net1!.hostQos).toEqual(VDSM_QOS);
    const bad = HostConfigSchema.safeParse({ networks: { net1: { ...good, hostQos: { out: { ls: { m2: 'fast' } } } } }, bonds: {} });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error!.issues[0]!.path)).toContain('hostQos');
    const noDevice = { ...good };
    delete (noDevice as Partial<Network>).nic;
    expect(HostConfigSchema.safeParse({ networks: { net1: noDevice }, bonds: {} }).success).toBe(false);
  });
});
