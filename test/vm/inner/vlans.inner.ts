// VLAN networks on a real kernel (inside the VM tier): on NICs and on bonds, bridged and
// bridgeless, several per device, vlan id and device changes, and the MTU rules. Every
// successful call is followed by VDSM's invariant (running config == capabilities).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { link, startVmHost, vlanDevices, type VmHost } from './vmhost.js';

let host: VmHost;
beforeAll(async () => {
  host = await startVmHost();
});
afterEach(async () => {
  await host.clear();
  expect(await vlanDevices()).toEqual([]);
});
afterAll(async () => {
  await host?.stop();
});

const mtu = async (dev: string) => (await link(dev))?.mtu as number | undefined;

describe('VLAN networks', () => {
  it('a bridged network on VLAN 100 of a NIC, then removed: the vlan device goes too', async () => {
    const caps = await host.setup({ net100: { nic: 'eth0', vlan: 100, ipaddr: '192.0.2.10', prefix: 24 } });
    const vlan = await link('eth0.100');
    expect(vlan?.linkinfo).toMatchObject({ info_kind: 'vlan', info_data: { protocol: '802.1Q', id: 100 } });
    expect(vlan?.master).toBe('net100');
    expect(caps.vlans['eth0.100']).toMatchObject({ iface: 'eth0', vlanid: 100, mtu: '1500' });
    expect(caps.networks.net100).toMatchObject({ iface: 'net100', southbound: 'eth0.100', vlanid: 100, ports: ['eth0.100'], addr: '192.0.2.10' });

    const after = await host.setup({ net100: { remove: true } });
    expect(await vlanDevices()).toEqual([]);
    expect(await link('net100')).toBeUndefined();
    expect(after.vlans).toEqual({});
    expect(after.nics.eth0).toMatchObject({ mtu: '1500' });
  });

  it("changing a network's vlan 101 → 102: only the new vlan device remains", async () => {
    await host.setup({ net: { nic: 'eth0', vlan: 101 } });
    const bridge = (await link('net'))!.ifindex;
    expect(await vlanDevices()).toEqual(['eth0.101']);
    const caps = await host.setup({ net: { nic: 'eth0', vlan: 102 } });
    expect(await vlanDevices()).toEqual(['eth0.102']);
    expect((await link('net'))!.ifindex, 'the bridge is kept').toBe(bridge);
    expect(caps.networks.net).toMatchObject({ southbound: 'eth0.102', vlanid: 102, ports: ['eth0.102'] });
    expect(Object.keys(caps.vlans)).toEqual(['eth0.102']);
  });

  it("changing a bridgeless network's device eth0 → eth1 moves its vlan device and address", async () => {
    await host.setup({ flat: { nic: 'eth0', vlan: 7, bridged: false, ipaddr: '198.51.100.7', prefix: 24 } });
    const caps = await host.setup({ flat: { nic: 'eth1', vlan: 7, bridged: false, ipaddr: '198.51.100.7', prefix: 24 } });
    expect(await vlanDevices()).toEqual(['eth1.7']);
    expect(caps.vlans['eth1.7']).toMatchObject({ iface: 'eth1', vlanid: 7, addr: '198.51.100.7' });
    expect(caps.networks.flat).toMatchObject({ bridged: false, iface: 'eth1.7', addr: '198.51.100.7' });
  });

  it('three VLAN networks (tags 0, 1, 2) on one NIC', async () => {
    const caps = await host.setup({
      v0: { nic: 'eth0', vlan: 0 },
      v1: { nic: 'eth0', vlan: 1, bridged: false, ipaddr: '192.0.2.1', prefix: 24 },
      v2: { nic: 'eth0', vlan: '2' },
    });
    expect(await vlanDevices()).toEqual(['eth0.0', 'eth0.1', 'eth0.2']);
    for (const id of [0, 1, 2]) expect(caps.vlans[`eth0.${id}`]).toMatchObject({ iface: 'eth0', vlanid: id });
    expect(caps.networks.v1).toMatchObject({ iface: 'eth0.1', addr: '192.0.2.1' });
    // two networks on the same (device, vlan) are refused
    await host.refused(ErrorCode.BAD_PARAMS, 'already carries', { v3: { nic: 'eth0', vlan: 2 } });
  });

  it('three VLAN networks (tags 0, 1, 2) on a two-NIC bond, bridged and bridgeless', async () => {
    const caps = await host.setup({
      b0: { bonding: 'bond10', vlan: 0 },
      b1: { bonding: 'bond10', vlan: 1, bridged: false, ipaddr: '192.0.2.11', prefix: 24 },
      b2: { bonding: 'bond10', vlan: 2 },
    }, { bond10: { nics: ['eth1', 'eth2'] } });
    expect(await vlanDevices()).toEqual(['bond10.0', 'bond10.1', 'bond10.2']);
    for (const id of [0, 1, 2]) expect(caps.vlans[`bond10.${id}`]).toMatchObject({ iface: 'bond10', vlanid: id });
    expect(caps.bondings.bond10).toMatchObject({ slaves: ['eth1', 'eth2'] });
    expect((await link('eth1'))!.master).toBe('bond10');
    expect(caps.networks.b2).toMatchObject({ southbound: 'bond10.2', ports: ['bond10.2'] });
  });

  it('MTU 2000 on a VLAN network sets NIC, vlan device and bridge to 2000; back to 1500 when it leaves', async () => {
    const caps = await host.setup({ big: { nic: 'eth0', vlan: 100, mtu: 2000 } });
    expect([await mtu('eth0'), await mtu('eth0.100'), await mtu('big')]).toEqual([2000, 2000, 2000]);
    expect(caps.nics.eth0.mtu).toBe('2000');
    expect(caps.vlans['eth0.100'].mtu).toBe('2000');
    expect(caps.bridges.big.mtu).toBe('2000');
    await host.setup({ big: { remove: true } });
    expect(await mtu('eth0')).toBe(1500);
  });

  it('two VLAN networks with MTU 1600 and 2000 on one NIC leave it at 2000, at 1600 when the 2000 one goes, at 1500 after both', async () => {
    await host.setup({ m16: { nic: 'eth0', vlan: 16, mtu: 1600 }, m20: { nic: 'eth0', vlan: 20, mtu: 2000 } });
    expect([await mtu('eth0'), await mtu('eth0.16'), await mtu('m16'), await mtu('eth0.20'), await mtu('m20')])
      .toEqual([2000, 1600, 1600, 2000, 2000]);
    await host.setup({ m20: { remove: true } });
    expect([await mtu('eth0'), await mtu('eth0.16'), await mtu('m16')]).toEqual([1600, 1600, 1600]);
    // an edit that leaves mtu out takes the default (the network is replaced whole)
    await host.setup({ m16: { nic: 'eth0', vlan: 16 } });
    expect([await mtu('eth0'), await mtu('eth0.16'), await mtu('m16')]).toEqual([1500, 1500, 1500]);
    await host.setup({ m16: { remove: true } });
    expect(await mtu('eth0')).toBe(1500);
  });

  it('VLAN networks with MTU 9000 over a bond: bond, slaves, vlan and bridge follow; the bond stays after', async () => {
    await host.setup({ jumbo: { bonding: 'bond11', vlan: 300, mtu: 9000 } }, { bond11: { nics: ['eth1', 'eth2'] } });
    expect([await mtu('bond11'), await mtu('eth1'), await mtu('eth2'), await mtu('bond11.300'), await mtu('jumbo')])
      .toEqual([9000, 9000, 9000, 9000, 9000]);
    const caps = await host.setup({ jumbo: { remove: true } });
    expect(caps.bondings.bond11).toBeDefined();
    expect([await mtu('bond11'), await mtu('eth1'), await mtu('eth2')]).toEqual([1500, 1500, 1500]);
  });

  it('vlan ids outside 0..4094 or not numbers are refused with 26', async () => {
    await host.refused(ErrorCode.BAD_VLAN, 'vlan', { bad: { nic: 'eth0', vlan: 4095 } });
    await host.refused(ErrorCode.BAD_VLAN, 'vlan', { bad: { nic: 'eth0', vlan: 'x1' } });
    await host.refused(ErrorCode.BAD_VLAN, 'vlan', { bad: { vlan: 5 } });
  });
});
