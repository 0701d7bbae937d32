/**
 * Source routing for DHCP-learned gateways on a real kernel, with dhcpcd and dnsmasq: a DHCP
 * network without defaultRoute gets, once its lease comes, its own table (the leased subnet and a
 * default route via the lease's router) and a rule from its leased address; a renewal with another
 * address moves the rule; moving defaultRoute between two DHCP networks moves the table; a static
 * edit and a removal take them away (the removal in the change's own batch); a restarted daemon
 * repairs a table a crash left half done, and a lease-time batch that fails is undone.
 *
 * Two subnets, two servers (as VDSM's test_default_route_of_two_dynamic_ip_networks has): the
 * switch bridge with 192.0.2.1 and its dnsmasq for veth_0; veth_1's far end is a routed port of its
 * own with 198.51.100.1 and a second dnsmasq. 203.0.113.7 lives on the switch namespace's
 * loopback, behind both gateways, and strict reverse-path filtering there drops a packet from
 * one subnet arriving through the other's port: a ping from a leased address to it succeeds only
 * through that network's own gateway.
 *
 * Starts dhcpcd: run it under the DHCP lock (see the project's working rules).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCE_RULE_PRIORITY, sourceRouteTable } from '../../src/plan/source-routes.js';
import { dhcpClientRecord, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { cleanupStaleNetns, createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { RpcTestClient } from '../helpers/rpc-client.js';

const NO_CHECK = { connectivityCheck: false };
const GW1 = '192.0.2.1';
const GW2 = '198.51.100.1';
const BEHIND = '203.0.113.7';
const T1 = sourceRouteTable('drnet1');
const T2 = sourceRouteTable('drnet2');
/** the two DHCP networks: device, source-route table, leased subnet, the lease's router */
const NET1 = { dev: 'drnet1', table: T1, subnet: '192.0.2.0/24', gw: GW1 };
const NET2 = { dev: 'drnet2', table: T2, subnet: '198.51.100.0/24', gw: GW2 };

describe('source routing of DHCP-learned gateways', { timeout: 240_000 }, () => {
  let host: NetnsHost;
  let dir: string;
  let daemon: TestDaemon;
  let client: RpcTestClient;
  let server1: Dnsmasq | undefined;
  let server2: Dnsmasq | undefined;

  const record = (dev: string) => dhcpClientRecord(daemon, dev);
  const setup = async (networks: Record<string, unknown>) =>
    expect(await client.call('Host.setupNetworks', { networks, bondings: {}, options: NO_CHECK })).toEqual({ code: 0, message: 'Done' });
  const caps = () => client.call<{ networks: Record<string, any>; bridges: Record<string, any> }>('Host.getNetworkCapabilities');
  const jsonIp = async (args: string[]) => JSON.parse((await host.ip(['-j', ...args])) || '[]') as Record<string, unknown>[];
  const v4addr = async (dev: string) => {
    const a = (await jsonIp(['-4', 'addr', 'show', 'dev', dev]))[0]?.addr_info as { local: string; prefixlen: number }[] | undefined;
    expect(a, `${dev} has one IPv4 address`).toHaveLength(1);
    return a![0]!.local;
  };
  /** the rules at VDSM's priority, as `ip -j rule` shows them */
  const ourRules = async () => (await jsonIp(['-4', 'rule', 'show']))
    .filter((r) => r.priority === SOURCE_RULE_PRIORITY)
    .map((r) => `from ${r.src === 'all' ? 'all' : `${String(r.src)}/${String(r.srclen ?? 32)}`} to ${r.dst === undefined ? 'all' : `${String(r.dst)}/${String(r.dstlen ?? 32)}`} table ${String(r.table)}`)
    .sort();
  const tableRoutes = async (table: number) => {
    const r = await execa('ip', ['-n', host.ns, '-j', '-4', 'route', 'show', 'table', String(table)], { reject: false });
    if (r.exitCode !== 0) return [];
    return (JSON.parse(r.stdout || '[]') as Record<string, unknown>[])
      .map((x) => `${String(x.dst)}${x.gateway ? ` via ${String(x.gateway)}` : ''} dev ${String(x.dev)}`).sort();
  };
  const pingFrom = (src: string) => execa('ip', ['netns', 'exec', host.ns, 'ping', '-c1', '-W2', '-I', src, BEHIND], { reject: false });
  /**
   * `own` (leased `ip`) is routed by its source: one rule from `ip` to its table, which holds the
   * subnet and a default via its router, and its traffic leaves through that router; `other`
   * holds defaultRoute: main's default route via its router, no table of its own.
   */
  const expectSourceRouted = async (own: typeof NET1, ip: string, other: typeof NET1) => {
    expect(await ourRules()).toEqual([`from ${ip}/32 to all table ${own.table}`]);
    expect(await tableRoutes(own.table)).toEqual([`${own.subnet} dev ${own.dev}`, `default via ${own.gw} dev ${own.dev}`].sort());
    expect(await tableRoutes(other.table)).toEqual([]);
    expect((await jsonIp(['-4', 'route', 'show', 'default'])).map((r) => `${String(r.gateway)} ${String(r.dev)}`)).toEqual([`${other.gw} ${other.dev}`]);
    expect(await host.ip(['route', 'get', BEHIND, 'from', ip])).toContain(`via ${own.gw} dev ${own.dev} table ${own.table}`);
    const ping = await pingFrom(ip);
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0);
  };
  /** the lease-time sync that adds `line` (e.g. 'rule-add from 198.51.100.120/32 table N'), logged after log index `from` */
  const synced = (from: number, line: string) => daemon.waitForLog(
    (l) => daemon.logs.indexOf(l) >= from && l.event === 'dhcp-routes' && (l.ops as string[]).includes(line), 60_000);

  beforeAll(async () => {
    await cleanupStaleNetns('hdr-');
    dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-dhcp-routes-'));
    host = await createNetnsHost({ prefix: 'hdr-', nics: 2 });
    await host.swIp(['link', 'set', 'sw_1', 'nomaster']);
    await execa('ip', ['-n', host.swNs, '-batch', '-'], { input: `addr add ${GW2}/24 dev sw_1\nlink set sw_1 up\naddr add ${BEHIND}/32 dev lo\n` });
    await execa('ip', ['netns', 'exec', host.swNs, 'sysctl', '-q', '-w', 'net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.sw.rp_filter=1', 'net.ipv4.conf.sw_1.rp_filter=1']);
    server1 = await startDnsmasq(host.swNs, dir);
    server2 = await startDnsmasq(host.swNs, dir, { subnet: { iface: 'sw_1', range: '198.51.100.100,198.51.100.150', router: GW2 } });
    daemon = await startTestDaemon({ ns: host.ns, dir, stateDir: path.join(dir, 'state'), args: ['--dhcp-timeout', '30'] });
    client = await RpcTestClient.connect(daemon.target);
  }, 300_000);

  afterAll(async () => {
    if (process.env.HOSTNETD_TEST_DUMP && daemon) writeFileSync(process.env.HOSTNETD_TEST_DUMP, daemon.logs.map((l) => JSON.stringify(l)).join('\n'));
    client?.ws.close();
    const pids = ['drnet1', 'drnet2'].map((dev) => daemon && record(dev)?.pid);
    await daemon?.stop('SIGKILL');
    // the clients outlive hostnetd by design: end ours (each leads its own process group)
    for (const pid of pids) if (pid) try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
    await server1?.stop();
    await server2?.stop();
    await host?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a lease of a network without defaultRoute: its table and one rule from the leased address, exactly; its traffic leaves through the learned gateway; caps report that gateway', async () => {
    await setup({ drnet1: { nic: 'veth_0', bootproto: 'dhcp', defaultRoute: true, blockingdhcp: true } });
    const from = daemon.logs.length;
    await setup({ drnet2: { nic: 'veth_1', bootproto: 'dhcp', blockingdhcp: true } });
    const ip2 = await v4addr('drnet2');
    expect(ip2).toMatch(/^198\.51\.100\.1[0-5]\d$/);
    await synced(from, `rule-add from ${ip2}/32 table ${T2}`);
    // the defaultRoute network's learned default route stays in main, with no table of its own
    await expectSourceRouted(NET2, ip2, NET1);
    const c = await caps();
    expect(c.networks.drnet2).toMatchObject({ bootproto4: 'dhcp', gateway: GW2, ipv4defaultroute: false });
    expect(c.bridges.drnet2.gateway).toBe(GW2);
    expect(c.networks.drnet1).toMatchObject({ gateway: GW1, ipv4defaultroute: true });
  });

  it('a renewal with another address moves the rule', async () => {
    const mac = (await jsonIp(['link', 'show', 'drnet2']))[0]!.address as string;
    await server2!.stop();
    server2 = await startDnsmasq(host.swNs, dir, { subnet: { iface: 'sw_1', range: '198.51.100.100,198.51.100.150', router: GW2 }, hosts: [`${mac},198.51.100.160`] });
    const from = daemon.logs.length;
    // rebind now rather than at T1: the authoritative server NAKs the old address
    process.kill(record('drnet2')!.pid, 'SIGHUP');
    await synced(from, `rule-add from 198.51.100.160/32 table ${T2}`);
    expect(await v4addr('drnet2')).toBe('198.51.100.160');
    await expectSourceRouted(NET2, '198.51.100.160', NET1);
  });

  it('a restarted hostnetd brings the table back in step at start (a crash in the middle of a sync left it half done); a sync whose batch fails is undone', async () => {
    client.ws.close();
    await daemon.stop();
    // what a kill in the middle of a sync's batch may leave: the rule gone, the default route not there yet
    await execa('ip', ['-n', host.ns, '-batch', '-'], { input: `rule del from 198.51.100.160/32 priority ${SOURCE_RULE_PRIORITY} table ${T2}\nroute del default table ${T2}\n` });
    expect(await ourRules()).toEqual([]);
    const halfDone = [`198.51.100.0/24 dev drnet2`];
    expect(await tableRoutes(T2)).toEqual(halfDone);
    // first the start's sync fails at its second line (the rule): the default route it added is taken back
    const faults = path.join(dir, 'faults.json');
    writeFileSync(faults, JSON.stringify([{ point: 'lease-batch', n: 1, line: 2 }]));
    daemon = await startTestDaemon({ ns: host.ns, dir, stateDir: path.join(dir, 'state'), args: ['--dhcp-timeout', '30'], env: { HOSTNETD_TEST_FAULTS: faults } });
    client = await RpcTestClient.connect(daemon.target);
    await daemon.waitForLog((l) => l.event === 'dhcp-routes-failed' && l.why === 'start');
    expect(await ourRules()).toEqual([]);
    expect(await tableRoutes(T2)).toEqual(halfDone);
    // a change that keeps the lease plans its table too: the same request again repairs it
    writeFileSync(faults, '[]');
    const from = daemon.logs.length;
    await setup({ drnet2: { nic: 'veth_1', bootproto: 'dhcp' } });
    expect(daemon.logs.slice(from).find((l) => l.event === 'plan')?.ops).toBe(2);
    expect(await ourRules()).toEqual([`from 198.51.100.160/32 to all table ${T2}`]);
    expect(await tableRoutes(T2)).toEqual([`198.51.100.0/24 dev drnet2`, `default via ${GW2} dev drnet2`].sort());
  });

  it('defaultRoute moved to the other DHCP network: the old holder gets a table from its next lease, the new one loses its own', async () => {
    const from = daemon.logs.length;
    await setup({ drnet2: { nic: 'veth_1', bootproto: 'dhcp', defaultRoute: true, blockingdhcp: true } });
    // the old holder's client is restarted without the default route: its table comes with its new lease
    const line = daemon.waitForLog((l) => daemon.logs.indexOf(l) >= from && l.event === 'dhcp-routes'
      && (l.ops as string[]).some((o) => o.startsWith('rule-add from 192.0.2.') && o.endsWith(`table ${T1}`)), 60_000);
    await line;
    const ip1 = await v4addr('drnet1');
    await expectSourceRouted(NET1, ip1, NET2);
    const c = await caps();
    expect(c.networks.drnet1).toMatchObject({ gateway: GW1, ipv4defaultroute: false });
    expect(c.networks.drnet2).toMatchObject({ gateway: GW2, ipv4defaultroute: true });
  });

  it('a static edit takes the table and rule away: traffic from the network leaves through the main table again (and dies at the strict switch)', async () => {
    await setup({ drnet1: { nic: 'veth_0', ipaddr: '192.0.2.20', prefix: 24 } });
    expect(record('drnet1')).toBeNull();
    expect(await ourRules()).toEqual([]);
    expect(await tableRoutes(T1)).toEqual([]);
    expect((await pingFrom('192.0.2.20')).exitCode).not.toBe(0);
    expect((await caps()).networks.drnet1).toMatchObject({ gateway: '', ipv4defaultroute: false });
  });

  it('removal takes them away in the change itself', async () => {
    const from = daemon.logs.length;
    await setup({ drnet1: { nic: 'veth_0', bootproto: 'dhcp', blockingdhcp: true } });
    const ip1 = await v4addr('drnet1');
    await synced(from, `rule-add from ${ip1}/32 table ${T1}`);
    expect(await ourRules()).toEqual([`from ${ip1}/32 to all table ${T1}`]);
    await setup({ drnet1: { remove: true } });
    // checked at once: the removal's own batch deleted the rule (the bridge took its routes along)
    expect(await ourRules()).toEqual([]);
    expect(await tableRoutes(T1)).toEqual([]);
    await setup({ drnet2: { remove: true } });
    expect(await ourRules()).toEqual([]);
    expect(await tableRoutes(T2)).toEqual([]);
  });
});
