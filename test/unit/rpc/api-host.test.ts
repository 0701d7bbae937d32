import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { HostApi, type HostApiDeps } from '../../../src/api/host.js';
import { hostMethods } from '../../../src/rpc/host-methods.js';
import { ConnectivityTracker } from '../../../src/apply/connectivity.js';
import type { NetworkChanger } from '../../../src/model/changer.js';
import type { KernelState } from '../../../src/model/kernel-state.js';
import { emptyConfig, type SetupRequest } from '../../../src/model/types.js';
import { answerText } from '../../../src/rpc/codec.js';
import { Dispatcher } from '../../../src/rpc/dispatch.js';
import { features } from '../../helpers/kernel-fixtures.js';

const state = (takenAt: number): KernelState => ({ links: {}, addresses: [], routes: [], fdb: [], takenAt });

function fakeDeps(over: Partial<HostApiDeps> = {}) {
  let reads = 0;
  const setups: SetupRequest[] = [];
  const changer: NetworkChanger = {
    setup: async (r) => void setups.push(r),
    setSafe: async () => undefined,
  };
  const deps: HostApiDeps = {
    readKernel: async () => {
      reads++;
      await new Promise((r) => setTimeout(r, 20));
      return state(reads);
    },
    readStats: async () => state(1000 + reads),
    features: async () => (features()),
    config: { running: emptyConfig, isDirty: () => true },
    nameservers: async () => ['192.0.2.53'],
    libvirt: () => ({ uri: 'none', connected: false }),
    hostFacts: async () => ({ cpuCores: '2', cpuThreads: '4', memSize: '1024', operatingSystem: { name: 'Debian', version: '12', pretty_name: 'Debian 12' }, kernelRelease: '6.1.0' }),
    fakeNics: ['veth_*'],
    version: '9.9.9',
    connectivity: new ConnectivityTracker(),
    changer,
    buildNetworkCapabilities: (input) => ({
      networks: {}, bridges: {}, nics: { snapshot: { n: input.state.takenAt } }, bondings: {}, vlans: {},
      nameservers: input.nameservers, supportsIPv6: true, netConfigDirty: input.netConfigDirty,
      hostnet: { version: input.version, kernel: input.features, libvirt: { uri: input.libvirt.uri, connected: false }, mirrors: {} },
    }),
    statistics: async (s, now) => ({ network: { x: { sampleTime: now / 1000, from: s.takenAt } } }),
    ...over,
  };
  return { deps, setups, reads: () => reads };
}

describe('HostApi', () => {
  it('renders capabilities from one gathered view, with host facts in getCapabilities', async () => {
    const { deps } = fakeDeps();
    const api = new HostApi(deps);
    const caps = await api.getCapabilities();
    expect(caps).toMatchObject({ cpuCores: '2', software_version: '9.9.9', nameservers: ['192.0.2.53'], netConfigDirty: true, nics: { snapshot: { n: 1 } } });
  });

  it('coalesces concurrent reads: 100 callers cost at most two snapshots', async () => {
    const f = fakeDeps();
    const api = new HostApi(f.deps);
    const all = await Promise.all(Array.from({ length: 100 }, () => api.getNetworkCapabilities()));
    expect(f.reads()).toBeLessThanOrEqual(2);
    expect(all.every((c) => c.hostnet.version === '9.9.9')).toBe(true);
  });

  it('ping and confirmConnectivity confirm, ping2 does not', async () => {
    const { deps } = fakeDeps();
    const api = new HostApi(deps);
    const since = performance.now();
    const waiting = deps.connectivity.waitSince(since, 50);
    api.ping2();
    expect(await waiting).toBe(false);
    const again = deps.connectivity.waitSince(performance.now(), 1000);
    api.ping();
    expect(await again).toBe(true);
    const third = deps.connectivity.waitSince(performance.now(), 1000);
    api.confirmConnectivity();
    expect(await third).toBe(true);
  });

  it('setupNetworks through the method table fills left-out bondings and options with {}', async () => {
    const f = fakeDeps();
    const d = new Dispatcher({ methods: hostMethods(new HostApi(f.deps)), log: pino({ level: 'silent' }), defaultTimeoutMs: 1000 });
    const answer = await d.handleFrame('{"jsonrpc":"2.0","id":1,"method":"Host.setupNetworks","params":[{"n":{"nic":"veth_0"}}]}', { peer: 'unix', connId: 1, transport: 'ws' });
    // VDSM's status map: the engine reads setupNetworks' result as one
    expect(JSON.parse(answerText(answer!))).toEqual({ jsonrpc: '2.0', id: 1, result: { code: 0, message: 'Done' } });
    expect(f.setups).toEqual([{ networks: { n: { nic: 'veth_0' } }, bondings: {}, options: {} }]);
  });

  it('statistics come from their own fresh read of the counters, not the capabilities view', async () => {
    const { deps, reads } = fakeDeps();
    const s = await new HostApi(deps).getNetworkStatistics();
    expect(s.network.x).toEqual({ sampleTime: 1, from: 1000 });
    expect(reads()).toBe(0);
  });
});
