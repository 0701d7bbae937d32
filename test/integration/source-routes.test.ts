/**
 * Source routing (VDSM's multiple gateways) on a real kernel: VDSM's default-gateway scenarios
 * (tests/network/functional/static_ip_test.py, TestNetworkIPDefaultGateway) translated, the
 * exact tables and rules compared with `ip -j`, edits, removal, a failure after the routing lines
 * and a kill -9 rolled back, and traffic from the secondary network's address really leaving
 * through its own gateway.
 *
 * The switch namespace: veth_0's far end sits on the switch bridge with 192.0.2.1 (the main
 * gateway); veth_1's far end is a routed port of its own with 198.51.100.1 and 2001:db8:1::1 (the
 * secondary gateway); 203.0.113.7 and 2001:db8:ff::7 live on its loopback, "behind" both. Strict
 * reverse-path filtering there drops a packet from 198.51.100.10 that arrives through the main
 * gateway's port, so a ping from that address succeeds only through the secondary gateway.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { SOURCE_RULE_PRIORITY, sourceRouteTable } from '../../src/plan/source-routes.js';
import { createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { faultRules, startTestDaemon, type FaultRules, type TestDaemon } from '../helpers/daemon.js';
import { RpcCallError, RpcTestClient } from '../helpers/rpc-client.js';
import { expectRunningMatchesCaps, readRunning } from '../helpers/state.js';
import { hostState } from '../helpers/host-state.js';

let host: NetnsHost;
let daemon: TestDaemon;
let client: RpcTestClient;
let dir: string;
let faults: FaultRules;

const noCheck = { connectivityCheck: false };
const NET = 'srnet1';
const NET2 = 'srnet2';
const IPv4_ADDRESS = '192.0.2.10';
const IPv4_GATEWAY = '192.0.2.1';
const IPv4_ADDRESS2 = '198.51.100.10';
const IPv4_GATEWAY2 = '198.51.100.1';
const IPv4_NETMASK = '255.255.255.0';
const IPv6_ADDRESS2 = '2001:db8:1::10';
const IPv6_GATEWAY2 = '2001:db8:1::1';
const BEHIND = '203.0.113.7';
const BEHIND6 = '2001:db8:ff::7';

async function setup(networks: Record<string, unknown>) {
  expect(await client.call('Host.setupNetworks', { networks, bondings: {}, options: noCheck })).toEqual({ code: 0, message: 'Done' });
  const caps = await client.call('Host.getNetworkCapabilities') as Record<string, any>;
  expectRunningMatchesCaps(readRunning(daemon.stateDir), caps);
  return caps;
}

async function removeAll() {
  const running = readRunning(daemon.stateDir);
  const networks = Object.fromEntries(Object.keys(running.networks).map((n) => [n, { remove: true }]));
  if (Object.keys(networks).length) await setup(networks);
  expect(await ourRules()).toEqual([]);
}

/** VDSM's assertNetworkIp for a static network: addr, netmask, gateway, ipv4defaultroute, and the v6 gateway of a defaultRoute network. */
async function assertNetworkIp(net: string, attrs: Record<string, any>) {
  const caps = await client.call('Host.getNetworkCapabilities') as Record<string, any>;
  const top = attrs.bridged === false ? attrs.nic : net;
  for (const info of [caps.networks[net], attrs.bridged === false ? caps.nics[top] : caps.bridges[top]]) {
    expect(info.addr).toBe(attrs.ipaddr);
    expect(info.netmask).toBe(attrs.netmask);
    expect(info.gateway, `${net} gateway`).toBe(attrs.gateway ?? '');
    expect(info.ipv4defaultroute, `${net} ipv4defaultroute`).toBe(Boolean(attrs.defaultRoute) && Boolean(attrs.gateway));
    if (attrs.defaultRoute) expect(info.ipv6gateway).toBe(attrs.ipv6gateway ?? '::');
  }
}

const jsonIp = async (args: string[]) => JSON.parse((await host.ip(['-j', ...args])) || '[]') as Record<string, unknown>[];

/** The rules at VDSM's priority, both families, as `ip -j rule` shows them. */
async function ourRules() {
  const out: string[] = [];
  for (const fam of ['-4', '-6']) {
    for (const r of await jsonIp([fam, 'rule', 'show'])) {
      if (r.priority !== SOURCE_RULE_PRIORITY) continue;
      const src = r.src === 'all' ? 'all' : `${r.src}/${r.srclen}`;
      const dst = r.dst === undefined ? 'all' : `${r.dst}/${r.dstlen}`;
      out.push(`${fam} from ${src} to ${dst} table ${r.table}`);
    }
  }
  return out.sort();
}

/** `ip -j route show table N` for one family, as 'dst via gw dev d'. */
async function tableRoutes(table: number, fam: '-4' | '-6' = '-4') {
  const r = await execa('ip', ['-n', host.ns, '-j', fam, 'route', 'show', 'table', String(table)], { reject: false });
  if (r.exitCode !== 0) return [];
  return (JSON.parse(r.stdout || '[]') as Record<string, unknown>[])
    .map((x) => `${String(x.dst)}${x.gateway ? ` via ${String(x.gateway)}` : ''} dev ${String(x.dev)}`).sort();
}

const pingFrom = (src: string, dst: string) => execa('ip', ['netns', 'exec', host.ns, 'ping', '-c1', '-W2', '-I', src, dst], { reject: false });

beforeAll(async () => {
  host = await createNetnsHost({ prefix: 'hnsr-', nics: 3 });
  await host.swIp(['link', 'set', 'sw_1', 'nomaster']);
  await execa('ip', ['-n', host.swNs, '-batch', '-'], {
    input: [
      `addr add ${IPv4_GATEWAY2}/24 dev sw_1`, `addr add ${IPv6_GATEWAY2}/64 dev sw_1 nodad`, 'link set sw_1 up',
      `addr add ${BEHIND}/32 dev lo`, `addr add ${BEHIND6}/128 dev lo`, '',
    ].join('\n'),
  });
  await execa('ip', ['netns', 'exec', host.swNs, 'sysctl', '-q', '-w', 'net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.sw.rp_filter=1']);
  dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-sr-'));
  faults = faultRules(dir);
    daemon = await startTestDaemon({ ns: host.ns, dir, resolvConf: 'nameserver 192.0.2.99\n', env: faults.env });
  client = await RpcTestClient.connect({ socket: daemon.socket });
}, 120_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await daemon?.cleanup();
  await host?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const net1 = () => ({ nic: 'veth_0', ipaddr: IPv4_ADDRESS, netmask: IPv4_NETMASK, gateway: IPv4_GATEWAY, defaultRoute: true }) as Record<string, any>;
const net2 = () => ({ nic: 'veth_1', ipaddr: IPv4_ADDRESS2, netmask: IPv4_NETMASK, gateway: IPv4_GATEWAY2, defaultRoute: false }) as Record<string, any>;
const T1 = sourceRouteTable(NET);
const T2 = sourceRouteTable(NET2);
const rulesOf = (table: number, subnet: string, fam = '-4') => [`${fam} from ${subnet} to all table ${table}`, `${fam} from all to ${subnet} table ${table}`];

describe("VDSM's default-gateway scenarios (TestNetworkIPDefaultGateway)", () => {
  it('test_add_net_with_ipv4_default_gateway: main default route, no table or rule of its own', async () => {
    await setup({ [NET]: net1() });
    await assertNetworkIp(NET, net1());
    expect(await host.ip(['-4', 'route', 'show', 'default'])).toContain(`via ${IPv4_GATEWAY} dev ${NET}`);
    expect(await ourRules()).toEqual([]);
    expect(await tableRoutes(T1)).toEqual([]);
    await removeAll();
  });

  it('test_add_net_with_ipv6_default_gateway', async () => {
    const attrs = { ...net1(), ipv6addr: '2001:db8::10/64', ipv6gateway: '2001:db8::1', nameservers: [] };
    await setup({ [NET]: attrs });
    await assertNetworkIp(NET, attrs);
    expect(await ourRules()).toEqual([]);
    await removeAll();
  });

  it('test_edit_default_gateway (both families)', async () => {
    const attrs = { ...net1(), ipv6addr: '2001:db8::10/64', ipv6gateway: '2001:db8::1', nameservers: [] };
    await setup({ [NET]: attrs });
    Object.assign(attrs, { ipv6gateway: '2001:db8::2', gateway: '192.0.2.2', ipaddr: '192.0.2.11' });
    await setup({ [NET]: attrs });
    await assertNetworkIp(NET, attrs);
    await removeAll();
  });

  it('test_add_net_and_move_ipv4_default_gateway: the old holder gets its own table and rules, the new one drops its own', async () => {
    const a = net1();
    const b = { ...net2(), defaultRoute: true };
    await setup({ [NET]: a });
    await setup({ [NET2]: b });
    a.defaultRoute = false;
    await assertNetworkIp(NET, a);
    await assertNetworkIp(NET2, b);
    expect(await ourRules()).toEqual(rulesOf(T1, '192.0.2.0/24').sort());
    expect(await tableRoutes(T1)).toEqual([`192.0.2.0/24 dev ${NET}`, `default via ${IPv4_GATEWAY} dev ${NET}`].sort());
    expect(await tableRoutes(T2)).toEqual([]);
    // and back: the move is undone the same way
    await setup({ [NET]: { ...net1(), defaultRoute: true } });
    expect(await ourRules()).toEqual(rulesOf(T2, '198.51.100.0/24').sort());
    expect(await tableRoutes(T1)).toEqual([]);
    expect(await tableRoutes(T2)).toEqual([`198.51.100.0/24 dev ${NET2}`, `default via ${IPv4_GATEWAY2} dev ${NET2}`].sort());
    await removeAll();
  });

  it('test_add_net_without_default_route: table adler32(<bridge>), its two routes, two rules at 3200', async () => {
    await setup({ [NET]: net1() });
    await setup({ [NET2]: net2() });
    await assertNetworkIp(NET, net1());
    await assertNetworkIp(NET2, net2());
    expect(T2).toBe(150143583); // python3 -c "import zlib; print(zlib.adler32(b'srnet2'))"
    expect(await ourRules()).toEqual(rulesOf(T2, '198.51.100.0/24').sort());
    expect(await tableRoutes(T2)).toEqual([`198.51.100.0/24 dev ${NET2}`, `default via ${IPv4_GATEWAY2} dev ${NET2}`].sort());
    // the main table still has one default route: the holder's
    expect((await jsonIp(['-4', 'route', 'show', 'default'])).map((r) => r.dev)).toEqual([NET]);
    await removeAll();
    await assertNoTables();
  });

  it('test_add_net_without_gateway_and_default_route: no gateway, no table', async () => {
    const { gateway: _, ...b } = net2();
    await setup({ [NET]: net1() });
    await setup({ [NET2]: b });
    await assertNetworkIp(NET2, b);
    expect(await ourRules()).toEqual([]);
    expect(await tableRoutes(T2)).toEqual([]);
    await removeAll();
  });

  it('test_create_net_without_default_route: a lone network with a gateway and no defaultRoute', async () => {
    await setup({ [NET2]: net2() });
    await assertNetworkIp(NET2, net2());
    expect(await ourRules()).toEqual(rulesOf(T2, '198.51.100.0/24').sort());
    await removeAll();
    await assertNoTables();
  });

  it('test_edit_gateway_without_default_route: updateGw, then removeGw', async () => {
    const attrs = net2();
    await setup({ [NET2]: attrs });
    Object.assign(attrs, { gateway: '198.51.100.254', ipaddr: '198.51.100.11' });
    await setup({ [NET2]: attrs });
    await assertNetworkIp(NET2, attrs);
    expect(await tableRoutes(T2)).toEqual([`198.51.100.0/24 dev ${NET2}`, `default via 198.51.100.254 dev ${NET2}`].sort());
    delete attrs.gateway;
    await setup({ [NET2]: attrs });
    await assertNetworkIp(NET2, attrs);
    expect(await ourRules()).toEqual([]);
    expect(await tableRoutes(T2)).toEqual([]);
    await removeAll();
  });

  it('test_remove_net_without_default_route / test_remove_net_with_default_route_and_gateway', async () => {
    await setup({ [NET]: net1() });
    await setup({ [NET2]: net2() });
    await setup({ [NET2]: { remove: true } });
    await assertNetworkIp(NET, net1());
    expect(await ourRules()).toEqual([]);
    const { gateway: _, ...b } = net2();
    await setup({ [NET2]: b });
    await setup({ [NET]: { remove: true } });
    await assertNetworkIp(NET2, b);
    await removeAll();
  });
});

async function assertNoTables() {
  expect(await ourRules()).toEqual([]);
  for (const t of [T1, T2, sourceRouteTable('veth_1')]) {
    expect(await tableRoutes(t)).toEqual([]);
    expect(await tableRoutes(t, '-6')).toEqual([]);
  }
}

describe('source routing beyond the scenarios', () => {
  it('traffic from the secondary address leaves through its own gateway (v4 and v6); without the rules it cannot', { timeout: 120_000 }, async () => {
    const b: Record<string, any> = { ...net2(), ipv6addr: `${IPv6_ADDRESS2}/64`, ipv6gateway: IPv6_GATEWAY2 };
    await setup({ [NET]: net1() });
    // before source routing: the reply path is strict, so a ping from the secondary address through the main gateway dies
    const { gateway: _g, ipv6gateway: _g6, ...noGateway } = b;
    await setup({ [NET2]: noGateway });
    expect((await pingFrom(IPv4_ADDRESS2, BEHIND)).exitCode).not.toBe(0);
    await setup({ [NET2]: b });
    expect(await ourRules()).toEqual([...rulesOf(T2, '198.51.100.0/24'), ...rulesOf(T2, '2001:db8:1::/64', '-6')].sort());
    expect(await tableRoutes(T2, '-6')).toEqual([`2001:db8:1::/64 dev ${NET2}`, `default via ${IPv6_GATEWAY2} dev ${NET2}`].sort());
    expect(await host.ip(['route', 'get', BEHIND, 'from', IPv4_ADDRESS2])).toContain(`via ${IPv4_GATEWAY2} dev ${NET2} table ${T2}`);
    expect(await host.ip(['route', 'get', BEHIND])).toContain(`via ${IPv4_GATEWAY} dev ${NET}`);
    const ping = await pingFrom(IPv4_ADDRESS2, BEHIND);
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0);
    const ping6 = await pingFrom(IPv6_ADDRESS2, BEHIND6);
    expect(ping6.exitCode, ping6.stdout + ping6.stderr).toBe(0);
    // caps: VDSM reports the table's gateway on the network and its bridge
    const caps = await client.call('Host.getNetworkCapabilities') as Record<string, any>;
    expect(caps.networks[NET2].gateway).toBe(IPv4_GATEWAY2);
    expect(caps.networks[NET2].ipv6gateway).toBe(IPv6_GATEWAY2);
    expect(caps.bridges[NET2].gateway).toBe(IPv4_GATEWAY2);
    expect(caps.networks[NET2].ipv4defaultroute).toBe(false);
    await removeAll();
    await assertNoTables();
  });

  it("rules and routes that are not hostnetd's are never touched", async () => {
    await host.ip(['rule', 'add', 'from', '10.9.0.0/16', 'table', String(T2), 'priority', '3200', 'iif', 'veth_2']);
    await host.ip(['rule', 'add', 'from', '10.8.0.0/16', 'table', '777', 'priority', '3200']);
    await host.ip(['link', 'set', 'veth_2', 'up']);
    await host.ip(['route', 'add', '10.7.0.0/16', 'dev', 'veth_2', 'table', '777']);
    try {
      await setup({ [NET2]: net2() });
      await setup({ [NET2]: { remove: true } });
      const left = await jsonIp(['-4', 'rule', 'show']);
      expect(left.filter((r) => r.priority === 3200).map((r) => `${String(r.src)} ${String(r.table)}`).sort()).toEqual([`10.8.0.0 777`, `10.9.0.0 ${T2}`]);
      expect(await tableRoutes(777)).toEqual(['10.7.0.0/16 dev veth_2']);
    } finally {
      await host.ip(['rule', 'del', 'from', '10.9.0.0/16', 'table', String(T2), 'priority', '3200', 'iif', 'veth_2']);
      await host.ip(['rule', 'del', 'from', '10.8.0.0/16', 'table', '777', 'priority', '3200']);
      await host.ip(['route', 'flush', 'table', '777']);
    }
  });

  it('a failure after the routing lines rolls them back (the last batch line, the running config rename, a kill -9)', { timeout: 300_000 }, async () => {
    await setup({ [NET]: net1() });
    await setup({ [NET2]: net2() });
    const before = await hostState(host.ns, daemon.stateDir, daemon.resolvConf);
    const change = { [NET]: { ...net1(), defaultRoute: false }, [NET2]: { ...net2(), defaultRoute: true, gateway: '198.51.100.254' } };
    // trace once to learn the batch's lines: the rule lines are last
    const mark = daemon.logs.length;
    await setup(change);
    const moved = await ourRules();
    expect(moved).toEqual(rulesOf(T1, '192.0.2.0/24').sort());
    const batch = daemon.logs.slice(mark).find((l) => l.event === 'fault-point' && l.point === 'batch');
    const lines = Number(batch?.lines);
    expect(lines).toBeGreaterThan(4);
    // back to the before-state
    await setup({ [NET]: net1(), [NET2]: net2() });
    expect(await hostState(host.ns, daemon.stateDir, daemon.resolvConf)).toEqual(before);

    for (const rule of [{ point: 'batch', n: 1, line: lines }, { point: 'rename:running.json', n: 1 }]) {
      faults.set([rule]);
      const err = await client.call('Host.setupNetworks', { networks: change, bondings: {}, options: noCheck }).then(() => null, (e: unknown) => e);
      expect(err, JSON.stringify(rule)).toBeInstanceOf(RpcCallError);
      expect((err as RpcCallError).code).toBe(rule.point === 'batch' ? ErrorCode.APPLY_FAILED : ErrorCode.STORE_FAILED);
      expect(await hostState(host.ns, daemon.stateDir, daemon.resolvConf), JSON.stringify(rule)).toEqual(before);
    }

    // kill -9 after the batch (writing the running config): the next start rolls the tables and rules back from the journal
    faults.set([{ point: 'fsync:running.json', n: 1, action: 'kill' }]);
    await client.call('Host.setupNetworks', { networks: change, bondings: {}, options: noCheck }).catch(() => undefined);
    expect((await daemon.exited).signal).toBe('SIGKILL');
    await client.close().catch(() => undefined);
    expect(await ourRules()).toEqual(moved); // the kill left the change half done
    faults.set([]);
    daemon = await startTestDaemon({ ns: host.ns, dir, stateDir: daemon.stateDir, env: faults.env });
    client = await RpcTestClient.connect({ socket: daemon.socket });
    expect(daemon.logs.some((l) => l.event === 'recovered')).toBe(true);
    expect(await hostState(host.ns, daemon.stateDir, daemon.resolvConf)).toEqual(before);
    await removeAll();
    await assertNoTables();
  });
});
