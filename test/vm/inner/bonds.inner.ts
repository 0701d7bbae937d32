// Bonds on a real kernel (inside the VM tier): create, edit (options, mode, slaves, hwaddr)
// and remove; adoption; the error codes; active-backup and 802.3ad as capabilities report
// them. Every successful call is followed by VDSM's invariant (running config ==
// capabilities, bonds included).
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { expectNoFlap, ip, link, startVmHost, sysfs, until, type Dict, type VmHost } from './vmhost.js';

let host: VmHost;
const extra: string[] = [];
beforeAll(async () => {
  host = await startVmHost();
});
afterEach(async () => {
  await host.clear();
  for (const dev of extra.splice(0)) await execa('ip', ['link', 'del', dev], { reject: false });
  for (const nic of ['eth0', 'eth1', 'eth2', 'eth3', 'eth4']) expect((await link(nic))?.master, nic).toBeUndefined();
});
afterAll(async () => {
  await host?.stop();
});

const bondOf = async (nic: string) => (await link(nic))?.master as string | undefined;
const ifindex = async (dev: string) => (await link(dev))?.ifindex as number | undefined;
const MAC = (i: number) => `52:54:00:00:00:0${i + 1}`;

describe('bonds', () => {
  it('a bond with options mode=3 miimon=150 is reported with those options; removed', async () => {
    const caps = await host.setup({}, { bond1: { nics: ['eth0', 'eth1'], options: 'mode=3 miimon=150' } });
    expect(caps.bondings.bond1).toMatchObject({ slaves: ['eth0', 'eth1'], opts: { mode: '3', miimon: '150' }, switch: 'legacy' });
    expect(caps.bondings.bond1.opts).toEqual({ mode: '3', miimon: '150' });
    expect((await link('bond1'))?.linkinfo?.info_data).toMatchObject({ mode: 'broadcast', miimon: 150 });
    expect(caps.nics.eth1).toMatchObject({ permhwaddr: MAC(1) });

    const after = await host.setup({}, { bond1: { remove: true } });
    expect(await link('bond1')).toBeUndefined();
    expect(after.bondings).toEqual({});
    for (const [i, nic] of ['eth0', 'eth1'].entries()) {
      const l = await link(nic);
      expect(l?.master).toBeUndefined();
      expect(l?.address, 'a released slave gets its own MAC back').toBe(MAC(i));
    }
  });

  it('active-backup (mode by name) with primary reports its active slave; options left out go back to the default without a flap', async () => {
    let caps = await host.setup({}, {
      bond2: { nics: ['eth0', 'eth1'], options: 'mode=active-backup miimon=100 updelay=200 num_grat_arp=3 primary=eth1' },
    });
    expect(caps.bondings.bond2.opts).toEqual({ mode: '1', miimon: '100', updelay: '200', num_grat_arp: '3', num_unsol_na: '3', primary: 'eth1' });
    // both slaves wait out updelay after enslaving: whichever ends it first is active for a moment
    // (eth0 in some runs), and the primary takes over as soon as it is up
    caps = await until('the primary as the active slave', async () => {
      const c = await host.caps();
      return c.bondings.bond2.active_slave === 'eth1' ? c : undefined;
    });
    expect(caps.bondings.bond2.active_slave).toBe('eth1');
    expect((await link('bond2'))?.linkinfo?.info_data?.active_slave, 'the kernel agrees').toBe('eth1');

    // VDSM's merge rule: the bond is replaced whole, so updelay and num_grat_arp go back to their defaults
    await expectNoFlap('bond2', async () => {
      caps = await host.setup({}, { bond2: { nics: ['eth0', 'eth1'], options: 'mode=1 miimon=100 primary=eth1' } });
    });
    expect(caps.bondings.bond2.opts).toEqual({ mode: '1', miimon: '100', primary: 'eth1' });

    // miimon off and back on: the delays the kernel keeps in miimon units are set again
    caps = await host.setup({}, { bond2: { nics: ['eth0', 'eth1'], options: 'mode=1 arp_interval=200 arp_ip_target=192.0.2.1,192.0.2.2 primary=eth1' } });
    expect(caps.bondings.bond2.opts).toEqual({ mode: '1', arp_interval: '200', arp_ip_target: '192.0.2.1,192.0.2.2', primary: 'eth1' });
    caps = await host.setup({}, { bond2: { nics: ['eth0', 'eth1'], options: 'mode=1 miimon=100 downdelay=300 primary=eth1' } });
    expect(caps.bondings.bond2.opts).toEqual({ mode: '1', miimon: '100', downdelay: '300', primary: 'eth1' });

    // iproute2 cannot clear primary: the bond is re-created, and says so by a new ifindex
    const before = await ifindex('bond2');
    caps = await host.setup({}, { bond2: { nics: ['eth0', 'eth1'], options: 'mode=1 miimon=100' } });
    expect(caps.bondings.bond2.opts).toEqual({ mode: '1', miimon: '100' });
    expect(await ifindex('bond2')).not.toBe(before);
  });

  it('a mode change empties the bond and takes it down; its vlan device and the bridge above stay', async () => {
    let caps = await host.setup(
      { bnet: { bonding: 'bond3', vlan: 10, ipaddr: '192.0.2.30', prefix: 24 } },
      { bond3: { nics: ['eth0', 'eth1'], options: 'mode=4 lacp_rate=fast xmit_hash_policy=layer2+3' } },
    );
    expect(caps.bondings.bond3.opts).toEqual({ mode: '4', lacp_rate: '1', xmit_hash_policy: '2' });
    const kept = { bond: await ifindex('bond3'), vlan: await ifindex('bond3.10'), bridge: await ifindex('bnet') };

    caps = await host.setup({}, { bond3: { nics: ['eth0', 'eth1'], options: 'mode=balance-rr' } });
    expect(caps.bondings.bond3.opts, 'lacp_rate and xmit_hash_policy back to their defaults').toEqual({ mode: '0' });
    expect(caps.bondings.bond3.slaves).toEqual(['eth0', 'eth1']);
    expect({ bond: await ifindex('bond3'), vlan: await ifindex('bond3.10'), bridge: await ifindex('bnet') }).toEqual(kept);
    expect(caps.networks.bnet).toMatchObject({ ports: ['bond3.10'], addr: '192.0.2.30' });
    expect(await sysfs('bond3', 'operstate')).toBe('up');

    // and to a mode whose options need the bond down (lacp_rate), with a configured MAC
    caps = await host.setup({}, { bond3: { nics: ['eth0', 'eth1'], options: 'mode=802.3ad lacp_rate=fast', hwaddr: '02:00:00:00:03:03' } });
    expect(caps.bondings.bond3).toMatchObject({ opts: { mode: '4', lacp_rate: '1' }, hwaddr: '02:00:00:00:03:03' });
    expect(await ifindex('bond3.10')).toBe(kept.vlan);
  });

  it('bond slaves [n0,n1] → [n0,n2], then 2 → 4 → 3 slaves, without a bond link flap; a slave leaving gets its MTU and MAC back', async () => {
    let caps = await host.setup(
      { big: { bonding: 'bond4', mtu: 2000, ipaddr: '192.0.2.40', prefix: 24 } },
      { bond4: { nics: ['eth0', 'eth1'], options: 'miimon=100', hwaddr: '02:00:00:00:04:04' } },
    );
    expect(caps.bondings.bond4).toMatchObject({ slaves: ['eth0', 'eth1'], hwaddr: '02:00:00:00:04:04', mtu: '2000' });
    expect((await link('eth1'))?.mtu).toBe(2000);

    await expectNoFlap('bond4', async () => {
      caps = await host.setup({}, { bond4: { nics: ['eth0', 'eth2'], options: 'miimon=100', hwaddr: '02:00:00:00:04:04' } });
    });
    expect(caps.bondings.bond4).toMatchObject({ slaves: ['eth0', 'eth2'], hwaddr: '02:00:00:00:04:04' });
    const left = await link('eth1');
    expect(left?.master).toBeUndefined();
    expect(left?.mtu, 'a slave leaving a bond gets its MTU back').toBe(1500);
    expect(left?.address).toBe(MAC(1));
    expect(caps.nics.eth1).toMatchObject({ mtu: '1500', hwaddr: MAC(1) });
    expect((await link('eth2'))?.mtu).toBe(2000);

    await expectNoFlap('bond4', async () => {
      caps = await host.setup({}, { bond4: { nics: ['eth0', 'eth1', 'eth2', 'eth3'], options: 'miimon=100', hwaddr: '02:00:00:00:04:04' } });
    });
    expect(caps.bondings.bond4.slaves).toEqual(['eth0', 'eth1', 'eth2', 'eth3']);
    // the NIC leaving carries a network of its own at once: the driver closed it, the plan opens it
    await expectNoFlap('bond4', async () => {
      caps = await host.setup(
        { solo: { nic: 'eth1', bridged: false, ipaddr: '198.51.100.41', prefix: 24 } },
        { bond4: { nics: ['eth0', 'eth2', 'eth3'], options: 'miimon=100', hwaddr: '02:00:00:00:04:04' } },
      );
    });
    expect(caps.bondings.bond4.slaves).toEqual(['eth0', 'eth2', 'eth3']);
    expect(await bondOf('eth1')).toBeUndefined();
    expect((await link('eth1'))?.flags).toContain('UP');
    expect(caps.nics.eth1).toMatchObject({ addr: '198.51.100.41', mtu: '1500' });
    expect(caps.networks.big).toMatchObject({ iface: 'big', ports: ['bond4'], mtu: '2000' });
  });

  it('bad bond names → 25; a NIC used by a network and a bond → 24; bad options → 25', async () => {
    for (const name of ['bond', 'bond bad', 'jamesbond007']) {
      await host.refused(ErrorCode.BAD_BONDING, 'bad bond name', {}, { [name]: { nics: ['eth0'] } });
      await host.refused(ErrorCode.BAD_BONDING, 'bad bond name', { n: { bonding: name } });
    }
    await host.refused(ErrorCode.USED_NIC, 'eth0', { n: { nic: 'eth0' } }, { bond6: { nics: ['eth0', 'eth1'] } });
    await host.refused(ErrorCode.BAD_BONDING, 'lacp_rate', {}, { bond6: { nics: ['eth0'], options: 'mode=1 lacp_rate=fast' } });
    await host.refused(ErrorCode.BAD_BONDING, 'unknown bond option', {}, { bond6: { nics: ['eth0'], options: 'frobnicate=1' } });
    await host.refused(ErrorCode.BAD_BONDING, 'unknown bond mode', {}, { bond6: { nics: ['eth0'], options: 'mode=9' } });
    await host.refused(ErrorCode.BAD_BONDING, 'exclusive', {}, { bond6: { nics: ['eth0'], options: 'miimon=100 arp_interval=100' } });
    await host.refused(ErrorCode.BAD_BONDING, 'primary', {}, { bond6: { nics: ['eth0'], options: 'mode=1 primary=eth3' } });
    await host.refused(ErrorCode.BAD_BONDING, 'no bond', { n: { bonding: 'bond42' } });
    await host.refused(ErrorCode.BAD_NIC, 'eth9', {}, { bond6: { nics: ['eth9'] } });
  });

  it('a NIC with a static IPv6 (and IPv4) address becomes a bond slave in one request (issue 13)', async () => {
    await host.setup({ flat6: { nic: 'eth1', bridged: false, ipv6addr: '2001:db8:6::5/64', ipaddr: '192.0.2.65', prefix: 24 } });
    expect(await ip('-6', 'addr', 'show', 'dev', 'eth1', 'scope', 'global')).toContain('2001:db8:6::5/64');
    const caps = await host.setup(
      { flat6: { remove: true }, bnet6: { bonding: 'bond8', bridged: false, ipv6addr: '2001:db8:6::5/64' } },
      { bond8: { nics: ['eth0', 'eth1'], options: 'mode=1 miimon=100' } },
    );
    expect(caps.bondings.bond8.slaves).toEqual(['eth0', 'eth1']);
    expect(caps.bondings.bond8.ipv6addrs).toEqual(['2001:db8:6::5/64']);
    expect(await ip('addr', 'show', 'dev', 'eth1', 'scope', 'global')).not.toMatch(/inet6? /);
  });

  it('a NIC that is the base of a VLAN device hostnetd does not manage is refused as a bond slave (24), nothing touched', async () => {
    await ip('link', 'add', 'link', 'eth2', 'name', 'eth2.77', 'type', 'vlan', 'id', '77');
    extra.push('eth2.77');
    await host.refused(ErrorCode.USED_NIC, "carries VLAN device 'eth2.77'", {}, { bond9: { nics: ['eth1', 'eth2'] } });
    expect(await link('bond9')).toBeUndefined();
    expect((await link('eth2.77'))?.link).toBe('eth2');
    // a VLAN network of hostnetd's own on a slave-to-be is not foreign: it moves onto the bond
    await ip('link', 'del', 'eth2.77');
    extra.splice(0);
    await host.setup({ v77: { nic: 'eth2', vlan: 77 } });
    const caps = await host.setup({ v77: { bonding: 'bond9', vlan: 77 } }, { bond9: { nics: ['eth1', 'eth2'] } });
    expect(caps.networks.v77).toMatchObject({ southbound: 'bond9.77' });
    expect(await link('eth2.77')).toBeUndefined();
  });

  it('removing a bridged network over a bond leaves the bond; removing a bond still in use → 31', async () => {
    await host.setup({ bn: { bonding: 'bond7' } }, { bond7: { nics: ['eth0', 'eth1'] } });
    const bond = await ifindex('bond7');
    await host.refused(ErrorCode.USED_BOND, 'bond7', {}, { bond7: { remove: true } });
    const caps = await host.setup({ bn: { remove: true } });
    expect(caps.bondings.bond7).toMatchObject({ slaves: ['eth0', 'eth1'] });
    expect(await ifindex('bond7')).toBe(bond);
    expect(await link('bn')).toBeUndefined();
    await host.setup({}, { bond7: { remove: true } });
    expect(await link('bond7')).toBeUndefined();
  });

  it('adopts an existing bond a network names, as it is (slaves, mode, options)', async () => {
    extra.push('bond9');
    await ip('link', 'add', 'bond9', 'type', 'bond', 'mode', 'active-backup', 'miimon', '150');
    for (const nic of ['eth2', 'eth3']) {
      await ip('link', 'set', nic, 'down');
      await ip('link', 'set', nic, 'master', 'bond9');
    }
    await ip('link', 'set', 'bond9', 'up');
    const before = await ifindex('bond9');
    const caps = await host.setup({ adopted: { bonding: 'bond9', vlan: 5, bridged: false, ipaddr: '198.51.100.9', prefix: 24 } });
    expect(host.running().bonds.bond9).toEqual({ name: 'bond9', nics: ['eth2', 'eth3'], options: { mode: 'active-backup', miimon: '150' } });
    expect(caps.bondings.bond9.opts).toEqual({ mode: '1', miimon: '150' });
    expect(await ifindex('bond9')).toBe(before);
    expect(caps.vlans['bond9.5']).toMatchObject({ iface: 'bond9', vlanid: 5, addr: '198.51.100.9' });
  });

  it('two 802.3ad bonds over connected veth pairs see each other as partners', async () => {
    for (const i of [0, 1]) {
      await ip('link', 'add', `veth_a${i}`, 'type', 'veth', 'peer', 'name', `veth_b${i}`);
      extra.push(`veth_a${i}`);
    }
    await host.setup({}, {
      bonda: { nics: ['veth_a0', 'veth_a1'], options: 'mode=4 lacp_rate=fast' },
      bondb: { nics: ['veth_b0', 'veth_b1'], options: 'mode=802.3ad lacp_rate=1 xmit_hash_policy=layer3+4' },
    });
    const caps: Dict = await until('LACP partners', async () => {
      const c = await host.caps();
      const { bonda, bondb } = c.bondings;
      return bonda?.ad_partner_mac === bondb?.hwaddr && bondb?.ad_partner_mac === bonda?.hwaddr ? c : undefined;
    }, 45_000);
    expect(caps.bondings.bonda).toMatchObject({ opts: { mode: '4', lacp_rate: '1' }, slaves: ['veth_a0', 'veth_a1'] });
    expect(caps.bondings.bondb.opts).toEqual({ mode: '4', lacp_rate: '1', xmit_hash_policy: '1' });
    expect(caps.bondings.bonda.ad_aggregator_id).toMatch(/^\d+$/);
    expect(caps.nics.veth_a0.ad_aggregator_id).toBe(caps.bondings.bonda.ad_aggregator_id);
    const vethA1 = JSON.parse(await ip('-j', 'link', 'show', 'veth_a1'))[0];
    expect(caps.nics.veth_a1.permhwaddr).toBeDefined();
    expect(caps.nics.veth_a1.hwaddr).toBe(vethA1.address);
    expect(caps.nics.veth_a1.hwaddr).toBe(caps.bondings.bonda.hwaddr);
  });
});
