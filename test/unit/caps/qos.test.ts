import { describe, expect, it } from 'vitest';
import { buildNetworkCapabilities } from '../../../src/caps/network.js';
import type { CapsInput } from '../../../src/caps/types.js';
import type { DeviceTc } from '../../../src/model/kernel-state.js';
import { canonicalizeNetwork } from '../../../src/validate/request.js';
import { emptyConfig, type Network } from '../../../src/model/types.js';
import { desiredQos } from '../../../src/plan/qos.js';
import { fixtureState } from '../kernel/fixtures.js';

const VDSM_QOS = { out: { ls: { m1: 4_000_000, d: 100_000, m2: 3_000_000 }, ul: { m2: 8_000_000 } } };

function shaped(want: NonNullable<ReturnType<typeof desiredQos>[string]>): DeviceTc {
  return {
    root: { kind: 'hfsc', handle: '1389:', hfscDefault: 0x1388 },
    qdiscs: [],
    classes: Object.entries(want.classes).map(([m, c]) => ({ handle: `1389:${m}`, parent: '1389:', kind: 'hfsc', ...c })),
    filters: [],
  };
}

describe('hostQos in the capabilities (VDSM netinfo/qos.py and cache.py shapes)', () => {
  const running = emptyConfig();
  running.networks.br0 = canonicalizeNetwork('br0', { nic: 'veth_0', hostQos: VDSM_QOS }) as Network;
  const state = fixtureState('bridged');
  const base: Omit<CapsInput, 'tc'> = {
    state, running, netConfigDirty: false, fakeNics: ['veth_*'], nameservers: [], version: '0.1.0',
    features: { bonding: false, vlan: false, vlanFiltering: false, portIsolation: true, hfsc: true, fqCodel: true },
    libvirt: { uri: 'test:///default', connected: true },
  };

  it("reports the network's class from the kernel in the API's units, and the NIC's qos list with vlan -1", () => {
    const tc = { veth_0: shaped(desiredQos(running, emptyConfig(), () => true).veth_0!) };
    const caps = buildNetworkCapabilities({ ...base, tc });
    // VDSM's test normalizes m1: 0 and d: 0 away; the raw report carries them as VDSM's does
    const expected = { out: { ls: { m1: 4_000_000, d: 100_000, m2: 3_000_000 }, ul: { m1: 0, d: 0, m2: 8_000_000 } } };
    expect(caps.networks.br0!.hostQos).toEqual(expected);
    expect(caps.nics.veth_0!.qos).toEqual([{ hostQos: expected, vlan: -1 }]);
  });

  it('reports nothing where the kernel has no class of ours (no qos key on the NIC)', () => {
    const caps = buildNetworkCapabilities({ ...base, tc: { veth_0: { root: { kind: 'pfifo_fast', handle: '0:' }, qdiscs: [], classes: [], filters: [] } } });
    expect(caps.networks.br0).toBeDefined();
    expect(caps.networks.br0!.hostQos).toBeUndefined();
    expect(caps.nics.veth_0!.qos).toBeUndefined();
  });
});
