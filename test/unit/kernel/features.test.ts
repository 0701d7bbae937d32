import { describe, expect, it } from 'vitest';
import {
  bridgeShowsVlanFiltering, configValue, detectKernelFeatures, listsModule, moduleAvailable,
  portIsolationFrom, releaseAtLeast, vlanFilteringFromState,
} from '../../../src/kernel/features.js';
import { parseLinks } from '../../../src/kernel/parse.js';
import { fixtureState } from './fixtures.js';
import type { KernelState } from '../../../src/model/kernel-state.js';

const stateOf = (scenario: string): KernelState => fixtureState(scenario);

describe('module evidence', () => {
  const none = { sysModule: false, moduleLists: '' };
  it('finds a loadable module in modules.dep, compressed or not', () => {
    const dep = 'kernel/drivers/net/bonding/bonding.ko.xz: kernel/net/tls/tls.ko.xz\nkernel/net/8021q/8021q.ko: kernel/net/802/garp.ko\n';
    expect(listsModule(dep, 'bonding')).toBe(true);
    expect(listsModule(dep, '8021q')).toBe(true);
    // tls appears only as a dependency, garp likewise: a dependency line still lists the file
    expect(listsModule(dep, 'garp')).toBe(true);
    expect(listsModule(dep, 'dummy')).toBe(false);
    // no false match on a longer name
    expect(listsModule('kernel/drivers/net/xbonding.ko:\n', 'bonding')).toBe(false);
  });
  it('finds a built-in module in modules.builtin', () => {
    expect(listsModule('kernel/net/8021q/8021q.ko\nkernel/net/bridge/bridge.ko\n', '8021q')).toBe(true);
  });
  it('decides from /sys/module, the lists, then the config', () => {
    expect(moduleAvailable('bonding', { ...none, sysModule: true })).toBe(true);
    expect(moduleAvailable('bonding', { ...none, moduleLists: 'kernel/drivers/net/bonding/bonding.ko:' })).toBe(true);
    expect(moduleAvailable('bonding', { ...none, config: 'm' })).toBe(true);
    expect(moduleAvailable('bonding', { ...none, config: 'n' })).toBe(false);
    expect(moduleAvailable('bonding', none)).toBe(false);
  });
  it('reads CONFIG_ values, including "is not set"', () => {
    const cfg = 'CONFIG_BRIDGE=y\n# CONFIG_VLAN_8021Q is not set\nCONFIG_BONDING=m\n';
    expect(configValue(cfg, 'BRIDGE')).toBe('y');
    expect(configValue(cfg, 'BONDING')).toBe('m');
    expect(configValue(cfg, 'VLAN_8021Q')).toBe('n');
    expect(configValue(cfg, 'BRIDGE_VLAN_FILTERING')).toBeUndefined();
    expect(configValue(undefined, 'BRIDGE')).toBeUndefined();
  });
});

describe('vlan_filtering from a bridge dump', () => {
  it('a bridge dumped without vlan_protocol/default_pvid means no CONFIG_BRIDGE_VLAN_FILTERING', () => {
    const state = stateOf('bridged');
    expect(state.links.br0?.bridge?.opts.vlan_filtering).toBe('0'); // always dumped, even unsupported
    expect(bridgeShowsVlanFiltering(state.links.br0!)).toBe(false);
    expect(vlanFilteringFromState(state)).toBe(false);
  });
  it('a bridge dumped with vlan_protocol proves support', () => {
    const links = parseLinks([{
      ifindex: 3, ifname: 'br9', mtu: 1500, flags: [],
      linkinfo: { info_kind: 'bridge', info_data: { vlan_filtering: 0, vlan_protocol: '802.1Q', vlan_default_pvid: 1 } },
    }]);
    expect(links.br9?.bridge?.opts).toMatchObject({ vlan_protocol: '0x8100', default_pvid: '1' });
    expect(bridgeShowsVlanFiltering(links.br9!)).toBe(true);
  });
  it('a state without bridges cannot tell', () => {
    expect(vlanFilteringFromState(stateOf('host-novlan'))).toBeUndefined();
    expect(vlanFilteringFromState(undefined)).toBeUndefined();
  });
});

describe('port isolation', () => {
  it('compares kernel releases', () => {
    expect(releaseAtLeast('6.18.44-fc-v595', 4, 18)).toBe(true);
    expect(releaseAtLeast('4.18.0-80.el8.x86_64', 4, 18)).toBe(true);
    expect(releaseAtLeast('4.9.0', 4, 18)).toBe(false);
    expect(releaseAtLeast('3.10.0-1160.el7', 4, 18)).toBe(false);
    expect(releaseAtLeast('garbage', 4, 18)).toBe(false);
  });
  it('an isolated port in a dump proves it whatever the release says', () => {
    expect(portIsolationFrom('3.10.0', stateOf('bridged'))).toBe(true);
    expect(portIsolationFrom('3.10.0', stateOf('host-novlan'))).toBe(false);
  });
});

describe('detectKernelFeatures with a snapshot at hand', () => {
  it('uses the snapshot bridge instead of probing', async () => {
    const f = await detectKernelFeatures({ state: stateOf('bridged'), root: '/nonexistent', kernelRelease: '3.10.0' });
    // no /sys, no module lists, no config under root: only the snapshot speaks
    expect(f).toEqual({ bonding: false, vlan: false, vlanFiltering: false, portIsolation: true, hfsc: false, fqCodel: false });
  });
});

describe('hfsc and fq_codel (hostQos)', () => {
  it('are found as a loaded module or in the module lists, and missing otherwise', async () => {
    const { mkdtemp, mkdir, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const root = await mkdtemp(`${tmpdir()}/hn-features-`);
    try {
      await mkdir(`${root}/sys/module/sch_hfsc`, { recursive: true });
      await mkdir(`${root}/lib/modules/6.1.0-9-amd64`, { recursive: true });
      await writeFile(`${root}/lib/modules/6.1.0-9-amd64/modules.dep`, 'kernel/net/sched/sch_fq_codel.ko:\n');
      const f = await detectKernelFeatures({ state: stateOf('bridged'), root, kernelRelease: '6.1.0-9-amd64' });
      expect([f.hfsc, f.fqCodel]).toEqual([true, true]);
      await rm(`${root}/sys/module/sch_hfsc`, { recursive: true });
      const g = await detectKernelFeatures({ state: stateOf('bridged'), root, kernelRelease: '6.1.0-9-amd64' });
      expect([g.hfsc, g.fqCodel]).toEqual([false, true]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
