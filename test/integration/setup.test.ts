/**
 * Host.setupNetworks end to end: the real daemon in a namespace with veth NICs, driven over its
 * socket like the engine would. After every successful call the running config must agree with
 * capabilities; after every failure the namespace must be exactly as before.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { NetnsHost } from '../helpers/netns.js';
import { refusedUnchanged, useDaemonHost } from '../helpers/daemon-host.js';
import type { TestDaemon } from '../helpers/daemon.js';
import { RpcCallError, RpcTestClient } from '../helpers/rpc-client.js';
import { expectRunningMatchesCaps, readRunning } from '../helpers/state.js';

let host: NetnsHost;
let daemon: TestDaemon;
let client: RpcTestClient;

const noCheck = { connectivityCheck: false };

async function setup(networks: Record<string, unknown>, bondings: Record<string, unknown> = {}, options: Record<string, unknown> = noCheck) {
  const r = await client.call('Host.setupNetworks', { networks, bondings, options });
  expect(r).toEqual({ code: 0, message: 'Done' });
  expectRunningMatchesCaps(readRunning(daemon.stateDir), await client.call('Host.getNetworkCapabilities'));
}

async function expectRefusedUnchanged(code: number, word: string, networks: Record<string, unknown>, bondings: Record<string, unknown> = {}, options: Record<string, unknown> = noCheck) {
  const err = await refusedUnchanged({ host, daemon, client }, networks, bondings, options);
  expect(err.code).toBe(code);
  expect(err.message).toContain(word);
}

useDaemonHost({ prefix: 'hnt-', nics: 4 }, (e) => ({ host, daemon, client } = e));

describe('Host.setupNetworks on a real kernel', () => {
  it('adds a bridged network with static IPv4/IPv6 and the default route, an isolated network and a bridgeless one', async () => {
    await setup({
      mgmt: { nic: 'veth_0', ipaddr: '192.0.2.10', netmask: '255.255.255.0', gateway: '192.0.2.1', defaultRoute: true,
        ipv6addr: '2001:db8::10/64', ipv6gateway: '2001:db8::1', nameservers: ['192.0.2.53'] },
      iso: {},
      flat: { nic: 'veth_1', bridged: false, ipaddr: '198.51.100.2', prefix: 24, mtu: 1400 },
    });
    const links = await host.links();
    expect(links.mgmt?.linkinfo).toMatchObject({ info_kind: 'bridge' });
    expect((links.veth_0 as { master?: string }).master).toBe('mgmt');
    expect((links.veth_1 as { mtu: number }).mtu).toBe(1400);
    expect(await host.ip(['-4', 'route', 'show', 'default'])).toContain('via 192.0.2.1 dev mgmt');
    expect(await host.ip(['-6', 'route', 'show', 'default'])).toContain('via 2001:db8::1 dev mgmt');
    // the gateway behind the switch answers: the data path is real
    await host.exec('ping', ['-c1', '-W2', '192.0.2.1']);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(daemon.resolvConf, 'utf8')).toContain('nameserver 192.0.2.53');
  });

  it('the same request again changes nothing: no link recreated, no operation run', async () => {
    const before = await host.links();
    const mark = daemon.logs.length;
    await setup({
      mgmt: { nic: 'veth_0', ipaddr: '192.0.2.10', netmask: '255.255.255.0', gateway: '192.0.2.1', defaultRoute: true,
        ipv6addr: '2001:db8::10/64', ipv6gateway: '2001:db8::1', nameservers: ['192.0.2.53'] },
    });
    const after = await host.links();
    for (const name of ['mgmt', 'iso', 'flat', 'veth_0']) expect(after[name]?.ifindex).toBe(before[name]?.ifindex);
    const plans = daemon.logs.slice(mark).filter((l) => l.event === 'plan');
    expect(plans.map((p) => [p.ops, p.changedConfig])).toEqual([[0, false]]);
    expect(daemon.logs.slice(mark).some((l) => l.event === 'applied')).toBe(false);
  });

  it('an identical request after the kernel changed behind the daemon plans again and repairs it', async () => {
    const same = { flat: { nic: 'veth_1', bridged: false, ipaddr: '198.51.100.2', prefix: 24, mtu: 1400 } };
    // twice on a quiet host: the second finds the plan of the first still empty
    await setup(same);
    await setup(same);
    const mark = daemon.logs.length;
    await host.ip(['link', 'set', 'dev', 'veth_1', 'mtu', '1500']);
    await host.ip(['addr', 'del', '198.51.100.2/24', 'dev', 'veth_1']);
    await setup(same);
    const plans = daemon.logs.slice(mark).filter((l) => l.event === 'plan');
    expect(plans).toHaveLength(1);
    expect(plans[0]!.ops).toBeGreaterThan(0);
    expect((( await host.links()).veth_1 as { mtu: number }).mtu).toBe(1400);
    expect(await host.ip(['-4', 'addr', 'show', 'dev', 'veth_1'])).toContain('198.51.100.2/24');
  });

  it('right after a change the identical request takes the plan the change verified, unless a config changed behind the daemon', async () => {
    const plans = (mark: number) => daemon.logs.slice(mark).filter((l) => l.event === 'plan').map((p) => [p.ops, p.reused ?? false]);
    const flat = (mtu: number) => ({ flat: { nic: 'veth_1', bridged: false, ipaddr: '198.51.100.2', prefix: 24, mtu } });
    let mark = daemon.logs.length;
    await setup(flat(1450));
    await setup(flat(1450));
    expect(plans(mark)).toEqual([[expect.any(Number), false], [0, true]]);
    expect(plans(mark)[0]![0]).toBeGreaterThan(0);
    // the kernel's running state moving (a port's flag: the port agent's, not a plan's) keeps it
    await setup(flat(1400));
    await host.exec('bridge', ['link', 'set', 'dev', 'veth_0', 'learning', 'off']);
    mark = daemon.logs.length;
    await setup(flat(1400));
    expect(plans(mark)).toEqual([[0, true]]);
    await host.exec('bridge', ['link', 'set', 'dev', 'veth_0', 'learning', 'on']);
    // an MTU changed behind the daemon right after its change: planned again and repaired
    await setup(flat(1450));
    await host.ip(['link', 'set', 'dev', 'veth_1', 'mtu', '1500']);
    mark = daemon.logs.length;
    await setup(flat(1450));
    expect(plans(mark)).toEqual([[1, false]]);
    expect(((await host.links()).veth_1 as { mtu: number }).mtu).toBe(1450);
    await setup(flat(1400));
  });

  it('edits in place: MTU, address, gateway; moving to another NIC keeps the bridge', async () => {
    const before = await host.links();
    await setup({ mgmt: { nic: 'veth_2', ipaddr: '192.0.2.11', prefix: 24, gateway: '192.0.2.1', defaultRoute: true, mtu: 1450 } });
    const after = await host.links();
    expect(after.mgmt?.ifindex).toBe(before.mgmt?.ifindex);
    expect((after.veth_2 as { master?: string }).master).toBe('mgmt');
    expect((after.veth_0 as { master?: string }).master).toBeUndefined();
    expect((after.veth_0 as { mtu: number }).mtu).toBe(1500);
    expect((after.mgmt as { mtu: number }).mtu).toBe(1450);
    expect(await host.ip(['-4', 'addr', 'show', 'dev', 'mgmt'])).toContain('192.0.2.11/24');
    await host.exec('ping', ['-c1', '-W2', '192.0.2.1']);
  });

  it('ipv6autoconf sets the IP device\'s autoconf and accept_ra sysctls, off by default', async () => {
    const sysctl = async (dev: string) => (await host.exec('cat', [`/proc/sys/net/ipv6/conf/${dev}/autoconf`, `/proc/sys/net/ipv6/conf/${dev}/accept_ra`])).split('\n');
    await setup({ iso: { ipv6autoconf: true } });
    expect(await sysctl('iso')).toEqual(['1', '1']);
    await setup({ iso: {} });
    expect(await sysctl('iso')).toEqual(['0', '0']);
    expect(await sysctl('mgmt')).toEqual(['0', '0']);
  });

  it('a network below IPv6\'s minimum MTU has no sysctls to write; raised past it, its device gets them', async () => {
    const files = async (dev: string) => (await host.exec('sh', ['-c', `ls /proc/sys/net/ipv6/conf/ | grep -cx ${dev} || true`])).trim();
    await setup({ small: { nic: 'veth_3', mtu: 1200 } });
    expect(((await host.links()).small as { mtu: number }).mtu).toBe(1200);
    expect(await files('small')).toBe('0');
    // the kernel creates IPv6 state with its defaults (1, 1) when the MTU reaches 1280: ours must follow
    await setup({ small: { nic: 'veth_3', mtu: 1500 } });
    expect((await host.exec('cat', ['/proc/sys/net/ipv6/conf/small/autoconf', '/proc/sys/net/ipv6/conf/small/accept_ra'])).split('\n')).toEqual(['0', '0']);
    // lowered again: its IPv6 state is gone with the MTU change, nothing to write and no error
    await setup({ small: { nic: 'veth_3', mtu: 1200 } });
    expect(await files('small')).toBe('0');
    await setup({ small: { remove: true } });
    expect(((await host.links()).veth_3 as { mtu: number }).mtu).toBe(1500);
  });

  it('removes networks and frees their NICs', async () => {
    await setup({ flat: { remove: true }, iso: { remove: true } });
    const links = await host.links();
    expect(links.iso).toBeUndefined();
    expect(await host.ip(['-4', 'addr', 'show', 'dev', 'veth_1'])).not.toContain('198.51.100.2');
    expect((links.veth_1 as { mtu: number }).mtu).toBe(1500);
  });

  it.each<[string, number, string, Record<string, unknown>, Record<string, unknown>?]>([
    ['bad network name', ErrorCode.BAD_BRIDGE, 'bad network name', { 'bad.name': { nic: 'veth_3' } }],
    ['removing an unknown network', ErrorCode.BAD_BRIDGE, 'no such network', { ghost: { remove: true } }],
    ['netmask and prefix', ErrorCode.BAD_PARAMS, 'exclusive', { n: { nic: 'veth_3', ipaddr: '10.0.0.1', netmask: '255.0.0.0', prefix: 8 } }],
    ['unknown attribute', ErrorCode.BAD_PARAMS, "'speed'", { n: { nic: 'veth_3', speed: 10 } }],
    ['a bootproto other than none or dhcp', ErrorCode.BAD_PARAMS, 'bootproto', { n: { nic: 'veth_3', bootproto: 'static' } }],
    ['a static address with dhcp', ErrorCode.BAD_ADDR, 'dhcp', { n: { nic: 'veth_3', bootproto: 'dhcp', ipaddr: '10.0.0.1', prefix: 8 } }],
    ['bad address', ErrorCode.BAD_ADDR, 'ipaddr', { n: { nic: 'veth_3', ipaddr: '10.0.0.300', prefix: 8 } }],
    ['missing NIC', ErrorCode.BAD_NIC, 'veth_9', { n: { nic: 'veth_9' } }],
    ['NIC in a bond and a network', ErrorCode.USED_NIC, 'veth_3', { n: { nic: 'veth_3' } }, { bond0: { nics: ['veth_3', 'veth_1'] } }],
    ['bad bond option', ErrorCode.BAD_BONDING, 'lacp_rate', {}, { bond0: { nics: ['veth_3'], options: 'mode=1 lacp_rate=fast' } }],
    ['bad vlan', ErrorCode.BAD_VLAN, '4094', { n: { nic: 'veth_3', vlan: 5000 } }],
    ['two networks on one NIC', ErrorCode.BAD_PARAMS, 'already carries', { n: { nic: 'veth_2' } }],
    ['two defaultRoute networks', ErrorCode.BAD_PARAMS, 'defaultRoute', { a: { nic: 'veth_3', defaultRoute: true }, b: { defaultRoute: true } }],
    // this kernel has neither 8021q nor bonding (test-machine.md): refused before anything is touched
    ['a VLAN on a kernel without 802.1Q', ErrorCode.BAD_PARAMS, 'module 8021q', { n: { nic: 'veth_3', vlan: 100, ipaddr: '10.0.0.1', prefix: 8 } }],
    ['a bond on a kernel without bonding', ErrorCode.BAD_PARAMS, 'module bonding', { n: { bonding: 'bond0' } }, { bond0: { nics: ['veth_3'] } }],
  ])('refuses %s with its code and changes nothing', async (_what, code, word, networks, bondings) => {
    await expectRefusedUnchanged(code, word, networks, bondings ?? {});
  });

  it('removing a bond still in use → 31, nothing changed (bond made on this kernel is impossible: the refusal comes first)', async () => {
    await expectRefusedUnchanged(ErrorCode.BAD_BONDING, 'no such bond', {}, { bond0: { remove: true } });
  });

  it('an executor failure mid-batch rolls every touched device back', async () => {
    // the first ops move mgmt and add a network; the kernel then refuses vlan_filtering (not built in
    // on this kernel) on a later line: a real failure, not a mock
    await expectRefusedUnchanged(ErrorCode.APPLY_FAILED, 'kernel refused', {
      mgmt: { nic: 'veth_0', ipaddr: '192.0.2.12', prefix: 24, gateway: '192.0.2.1', defaultRoute: true, mtu: 1400 },
      extra: { nic: 'veth_1', ipaddr: '203.0.113.5', prefix: 24 },
      zzbad: { custom: { bridge_opts: 'vlan_filtering=1' } },
    });
    expect(daemon.logs.some((l) => l.event === 'rolled-back')).toBe(true);
  });

  it('a connectivity check that times out rolls back and answers 10', async () => {
    await expectRefusedUnchanged(ErrorCode.LOST_CONNECTION, 'connectivity', { late: { nic: 'veth_3', mtu: 1300 } }, {},
      { connectivityCheck: true, connectivityTimeout: 1 });
  });

  it('a connectivity check confirmed from another connection commits', async () => {
    const other = await RpcTestClient.connect({ socket: daemon.socket });
    const mark = daemon.logs.length;
    const pending = client.call('Host.setupNetworks', { networks: { conf: { nic: 'veth_3' } }, options: { connectivityTimeout: 10 } });
    await daemon.waitForLog((l) => daemon.logs.indexOf(l) >= mark && l.event === 'await-connectivity');
    expect(await other.call('Host.confirmConnectivity')).toBe(true);
    expect(await pending).toEqual({ code: 0, message: 'Done' });
    await other.close();
    expect(readRunning(daemon.stateDir).networks.conf).toBeDefined();
  });

  it('a second change while one runs gets 40 at once; reads are served meanwhile', async () => {
    const other = await RpcTestClient.connect({ socket: daemon.socket });
    const mark = daemon.logs.length;
    let slowSettled = false;
    const slow = client.call('Host.setupNetworks', { networks: { conf: { nic: 'veth_3', mtu: 1600 } }, options: { connectivityTimeout: 10 } })
      .catch((e: unknown) => e).finally(() => { slowSettled = true; });
    await daemon.waitForLog((l) => daemon.logs.indexOf(l) >= mark && l.event === 'await-connectivity');
    const busy = await other.call('Host.setupNetworks', { networks: {}, options: noCheck }).catch((e: unknown) => e as RpcCallError);
    expect((busy as RpcCallError).code).toBe(ErrorCode.UNAVAIL);
    expect(((await other.call('Host.setSafeNetworkConfig').catch((e: unknown) => e)) as RpcCallError).code).toBe(ErrorCode.UNAVAIL);
    // "at once": both refusals came while the first change still waits for its confirmation
    expect(slowSettled).toBe(false);
    expect(await other.call('Host.getNetworkCapabilities')).toHaveProperty('networks.conf');
    await other.call('Host.confirmConnectivity');
    expect(await slow).toEqual({ code: 0, message: 'Done' });
    await other.close();
  });

  it('setSafeNetworkConfig and netConfigDirty', async () => {
    expect((await client.call<Record<string, unknown>>('Host.getNetworkCapabilities')).netConfigDirty).toBe(true);
    await client.call('Host.setSafeNetworkConfig');
    expect((await client.call<Record<string, unknown>>('Host.getNetworkCapabilities')).netConfigDirty).toBe(false);
    await setup({ conf: { nic: 'veth_3', mtu: 1500 } }, {}, { connectivityCheck: false, commitOnSuccess: true });
    expect((await client.call<Record<string, unknown>>('Host.getNetworkCapabilities')).netConfigDirty).toBe(false);
  });
});
