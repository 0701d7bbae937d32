/**
 * DHCPv4 and DHCPv6 through the real daemon and a real dhcpcd, against dnsmasq as the server in
 * the switch namespace (as VDSM's dynamic_ip_test.py does): lease, blockingdhcp, a server that
 * never answers (blocking → 29 and the exact before-state; non-blocking → up now, lease later),
 * a renewal that changes the address, a killed client restarted, a restarted hostnetd adopting
 * its clients with their leases, removal releasing the lease, static → dhcp → static, two
 * dynamic networks with and without the default route, DHCP DNS and static nameservers winning,
 * a client that cannot start (fault seam) rolled back.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dhcpClientRecord, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startDnsmasq, DHCP_DNS4, DHCP_DNS6, type Dnsmasq } from '../helpers/dnsmasq.js';
import { cleanupStaleNetns, createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { execa } from 'execa';
import { DAEMON_MAIN } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { comparableState, readRunning } from '../helpers/state.js';

const NO_CHECK = { connectivityCheck: false };

// generous: every step waits for a real server and client on a machine that may be loaded
describe('DHCP (dhcpcd against dnsmasq)', { timeout: 240_000 }, () => {
  let host: NetnsHost;
  let dir: string;
  let daemon: TestDaemon;
  let client: RpcTestClient;
  let server: Dnsmasq | undefined;

  const record = (dev: string) => dhcpClientRecord(daemon, dev);
  const setup = (networks: Record<string, unknown>) => client.call('Host.setupNetworks', { networks, bondings: {}, options: NO_CHECK });
  const caps = () => client.call<{ networks: Record<string, any>; nameservers: string[] }>('Host.getNetworkCapabilities');
  const start = async (args: string[] = []) => {
    daemon = await startTestDaemon({ ns: host.ns, dir, stateDir: path.join(dir, 'state'), args: ['--dhcp-timeout', '20', ...args], env: { HOSTNETD_TEST_FAULTS: path.join(dir, 'faults.json') } });
    client = await RpcTestClient.connect(daemon.target);
    await client.call('Host.subscribeEvents').catch(() => undefined);
  };
  const stopDaemon = async () => {
    if (process.env.HOSTNETD_TEST_DUMP) writeFileSync(`${process.env.HOSTNETD_TEST_DUMP}.1`, daemon.logs.map((l) => JSON.stringify(l)).join('\n'));
    client.ws.close();
    await daemon.stop();
  };
  /** the lease event for dev with an address of the family, logged after log index `from` */
  const leased = (dev: string, family: 4 | 6, from = 0) => daemon.waitForLog(
    (l) => daemon.logs.indexOf(l) >= from && l.event === 'dhcp-lease' && l.dev === dev && l.family === family && (l.addresses as string[]).length > 0, 30_000);
  const v4addrs = async (dev: string) => (await host.ip(['-4', '-o', 'addr', 'show', 'dev', dev])).split('\n').filter(Boolean).map((l) => l.split(/\s+/)[3]);

  beforeAll(async () => {
    await cleanupStaleNetns('hdh-');
    dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-dhcp-'));
    host = await createNetnsHost({ prefix: 'hdh-', nics: 4 });
    server = await startDnsmasq(host.swNs, dir);
    await start();
  }, 300_000);

  afterAll(async () => {
    if (process.env.HOSTNETD_TEST_DUMP && daemon) writeFileSync(process.env.HOSTNETD_TEST_DUMP, daemon.logs.map((l) => JSON.stringify(l)).join('\n'));
    client?.ws.close();
    await daemon?.stop('SIGKILL');
    // the clients outlive hostnetd by design: end ours by their recorded pids
    for (const dev of ['dhnet1', 'dhnet2', 'dhnet3', 'dhnet4', 'veth_3']) {
      const r = daemon && record(dev);
      // each client leads its own process group (with dhcpcd's privilege-separation helpers)
      if (r) try { process.kill(-r.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    await server?.stop();
    await host?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('blockingdhcp: the answer comes with the v4 and v6 leases; the defaultRoute network takes the learned default route and the DHCP nameservers', async () => {
    const answer = await client.request('Host.setupNetworks', { networks: { dhnet1: { nic: 'veth_0', bootproto: 'dhcp', dhcpv6: true, defaultRoute: true, blockingdhcp: true } }, bondings: {}, options: NO_CHECK }, 'dh-1');
    expect(answer.result).toEqual({ code: 0, message: 'Done' });
    // the subscriber heard its change wait for the leases, up to --dhcp-timeout
    const heard: { method?: string; params?: Record<string, unknown> }[] = [];
    while (client.unmatchedCount() > 0) heard.push((await client.nextUnmatched()) as (typeof heard)[number]);
    const progress = heard.filter((n) => n.method === '|net|progress|dh-1').map((n) => n.params);
    expect(progress.map((p) => p?.phase)).toEqual(['planning', 'applying', 'verifying', 'dhcp', 'committing']);
    expect(progress[3]).toMatchObject({ networks: ['dhnet1'], timeoutSeconds: 20 });
    const net = (await caps()).networks.dhnet1;
    expect(net).toMatchObject({ dhcpv4: true, dhcpv6: true, bootproto4: 'dhcp', gateway: '192.0.2.1', ipv4defaultroute: true });
    expect(net.ipv4addrs).toEqual([expect.stringMatching(/^192\.0\.2\.1[0-5]\d\/24$/)]);
    expect(net.ipv6addrs).toEqual(expect.arrayContaining([expect.stringMatching(/^2001:db8::1[0-5][0-9a-f]\/128$/)]));
    expect(await host.ip(['route', 'show', 'default'])).toMatch(/^default via 192\.0\.2\.1 dev dhnet1 proto dhcp/m);
    // auto DNS: the defaultRoute network has no static nameservers
    await daemon.waitForLog((l) => l.event === 'dhcp-nameservers' && l.dev === 'dhnet1', 30_000);
    expect(readFileSync(daemon.resolvConf, 'utf8')).toContain(`nameserver ${DHCP_DNS4}\nnameserver ${DHCP_DNS6}\n`);
    // volatile: never stored
    expect(readRunning(daemon.stateDir).networks.dhnet1).toMatchObject({ bootproto: 'dhcp', dhcpv6: true });
    expect(JSON.stringify(readRunning(daemon.stateDir))).not.toContain('blocking');
    // the lease was news to the engine
    if (!heard.some((n) => n.method === '|net|host_conn|no_id')) {
      expect(await client.nextEvent('|net|host_conn|no_id')).toMatchObject({ method: '|net|host_conn|no_id' });
    }
  });

  it('a second dynamic network without defaultRoute: its gateway is reported, never installed in the main table', async () => {
    await setup({ dhnet2: { nic: 'veth_1', bootproto: 'dhcp', blockingdhcp: true } });
    const net = (await caps()).networks.dhnet2;
    expect(net).toMatchObject({ dhcpv4: true, bootproto4: 'dhcp', gateway: '192.0.2.1', ipv4defaultroute: false });
    expect(net.ipv4addrs).toHaveLength(1);
    const defaults = await host.ip(['route', 'show', 'default']);
    expect(defaults).not.toContain('dhnet2');
    expect(defaults).toMatch(/dev dhnet1/);
  });

  it('removal releases the lease and stops the client', async () => {
    const pid = record('dhnet2')!.pid;
    const mark = server!.log().length;
    await setup({ dhnet2: { remove: true } });
    await server!.waitLog(/DHCPRELEASE\(sw\) 192\.0\.2\.\d+/, 30_000, mark);
    expect(record('dhnet2')).toBeNull();
    expect(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dhcpcd')).toBe(false);
  });

  it('a killed client is started again and gets its lease back', async () => {
    const old = record('dhnet1')!.pid;
    const from = daemon.logs.length;
    process.kill(old, 'SIGKILL');
    await daemon.waitForLog((l) => daemon.logs.indexOf(l) >= from && l.event === 'dhcp-client-started' && l.dev === 'dhnet1', 30_000);
    expect(record('dhnet1')!.pid).not.toBe(old);
    await leased('dhnet1', 4, from);
    await leased('dhnet1', 6, from);
    expect((await caps()).networks.dhnet1.ipv4addrs).toHaveLength(1);
  });

  it('a restarted hostnetd adopts the running client: same pid, lease kept', async () => {
    const pid = record('dhnet1')!.pid;
    const addrs = await v4addrs('dhnet1');
    await stopDaemon();
    await start();
    expect(daemon.logs.some((l) => l.event === 'dhcp-client-started')).toBe(false);
    expect(record('dhnet1')!.pid).toBe(pid);
    expect(await v4addrs('dhnet1')).toEqual(addrs);
    expect((await caps()).networks.dhnet1).toMatchObject({ dhcpv4: true, ipv4addrs: addrs.map(String) });
  });

  it('a renewal that brings a new address reaches capabilities and the engine', async () => {
    const mac = JSON.parse(await host.ip(['-j', 'link', 'show', 'dhnet1']))[0].address as string;
    await server!.stop();
    server = await startDnsmasq(host.swNs, dir, { hosts: [`${mac},192.0.2.160`] });
    const from = daemon.logs.length;
    while (client.unmatchedCount() > 0) await client.nextUnmatched();
    // rebind now rather than at T1 (60 s): the authoritative server NAKs the old address
    process.kill(record('dhnet1')!.pid, 'SIGHUP');
    await daemon.waitForLog((l) => daemon.logs.indexOf(l) >= from && l.event === 'dhcp-lease' && l.dev === 'dhnet1' && (l.addresses as string[]).includes('192.0.2.160/24'), 60_000);
    expect((await caps()).networks.dhnet1.ipv4addrs).toEqual(['192.0.2.160/24']);
    expect(await client.nextEvent('|net|host_conn|no_id')).toMatchObject({ method: '|net|host_conn|no_id' });
  });

  it('static nameservers win over DHCP ones', async () => {
    await setup({ dhnet1: { nic: 'veth_0', bootproto: 'dhcp', dhcpv6: true, defaultRoute: true, nameservers: ['192.0.2.99'], blockingdhcp: true } });
    expect(readFileSync(daemon.resolvConf, 'utf8')).not.toContain(DHCP_DNS4);
    expect((await caps()).nameservers).toEqual(['192.0.2.99']);
  });

  it('blockingdhcp with a silent server: 29, rolled back to the exact before-state, no client left', async () => {
    await server!.stop();
    server = undefined;
    await stopDaemon();
    await start(['--dhcp-timeout', '3']);
    const before = await comparableState(host.ns);
    const running = readFileSync(path.join(daemon.stateDir, 'running.json'), 'utf8');
    const err = await client.callError('Host.setupNetworks', { networks: { dhnet3: { nic: 'veth_2', bootproto: 'dhcp', blockingdhcp: true } }, bondings: {}, options: NO_CHECK });
    expect(err.code).toBe(29);
    expect(err.message).toContain("'dhnet3'");
    expect(await comparableState(host.ns)).toEqual(before);
    expect(readFileSync(path.join(daemon.stateDir, 'running.json'), 'utf8')).toBe(running);
    expect(record('dhnet3')).toBeNull();
  });

  it('without blockingdhcp the network is up at once and the lease comes when the server does', async () => {
    await setup({ dhnet3: { nic: 'veth_2', bootproto: 'dhcp' } });
    expect((await caps()).networks.dhnet3).toMatchObject({ dhcpv4: true, ipv4addrs: [] });
    const from = daemon.logs.length;
    server = await startDnsmasq(host.swNs, dir);
    await leased('dhnet3', 4, from);
    expect((await caps()).networks.dhnet3.ipv4addrs).toHaveLength(1);
  });

  it('static → dhcp → static on one network', async () => {
    await setup({ dhnet3: { nic: 'veth_2', ipaddr: '192.0.2.20', prefix: 24 } });
    expect(record('dhnet3')).toBeNull();
    expect(await v4addrs('dhnet3')).toEqual(['192.0.2.20/24']);
    await setup({ dhnet3: { nic: 'veth_2', bootproto: 'dhcp', blockingdhcp: true } });
    const dyn = await v4addrs('dhnet3');
    expect(dyn).toHaveLength(1);
    expect(dyn[0]).not.toBe('192.0.2.20/24');
    await setup({ dhnet3: { nic: 'veth_2', ipaddr: '192.0.2.21', prefix: 24 } });
    expect(await v4addrs('dhnet3')).toEqual(['192.0.2.21/24']);
    expect(record('dhnet3')).toBeNull();
  });

  it('a bridgeless DHCP network on a NIC whose client cannot start: 29 and the exact before-state', async () => {
    writeFileSync(path.join(dir, 'faults.json'), JSON.stringify([{ point: 'dhcp-start:veth_3', n: 1 }]));
    const before = await comparableState(host.ns);
    const err = await client.callError('Host.setupNetworks', { networks: { dhnet4: { nic: 'veth_3', bridged: false, bootproto: 'dhcp' } }, bondings: {}, options: NO_CHECK });
    expect(err.code).toBe(29);
    expect(await comparableState(host.ns)).toEqual(before);
    expect(record('veth_3')).toBeNull();
    writeFileSync(path.join(dir, 'faults.json'), '[]');
    const from = daemon.logs.length;
    await setup({ dhnet4: { nic: 'veth_3', bridged: false, bootproto: 'dhcp' } });
    await leased('veth_3', 4, from);
    expect((await caps()).networks.dhnet4).toMatchObject({ iface: 'veth_3', dhcpv4: true, ipv4addrs: [expect.stringMatching(/^192\.0\.2\./)] });
  });
  /** A reboot, as far as DHCP goes: the daemon and every client gone, /run emptied, the bridge gone. */
  const reboot = async () => {
    await stopDaemon();
    for (const dev of ['dhnet1', 'veth_3']) {
      const r = record(dev);
      if (r) try { process.kill(-r.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    rmSync(path.join(daemon.runDir, 'dhcp'), { recursive: true, force: true });
    await host.ip(['link', 'del', 'dhnet1']);
  };
  const restore = (timeout: number) => execa('ip', ['netns', 'exec', host.ns, process.execPath, DAEMON_MAIN, 'restore', '--state-dir', daemon.stateDir,
    '--run-dir', daemon.runDir, '--resolv-conf', daemon.resolvConf, '--libvirt-uri', 'none', '--dhcp-timeout', String(timeout)], { reject: false });

  it('hostnetd restore brings DHCP networks back with their leases; the daemon adopts their clients', async () => {
    await client.call('Host.setSafeNetworkConfig');
    await reboot();
    const r = await restore(30);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('restored safe config');
    expect(r.stdout).not.toContain('no DHCP lease');
    const pid = record('dhnet1')!.pid;
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('dhnet1');
    await start();
    expect(daemon.logs.some((l) => l.event === 'dhcp-client-started')).toBe(false);
    expect(record('dhnet1')!.pid).toBe(pid);
    const net = (await caps()).networks.dhnet1;
    expect(net.ipv4addrs).toEqual([expect.stringMatching(/^192\.0\.2\./)]);
    expect(net.ipv6addrs).toEqual(expect.arrayContaining([expect.stringMatching(/^2001:db8::/)]));
  });

  it('hostnetd restore holds the boot at most --dhcp-timeout: a network without a lease is reported and its client keeps trying', async () => {
    await server!.stop();
    server = undefined;
    await reboot();
    const r = await restore(2);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('warning: network dhnet1 has no DHCP lease yet; its client keeps trying');
    expect(r.stdout).toContain('warning: network dhnet4 has no DHCP lease yet');
    const pid = record('dhnet1')!.pid;
    await start();
    expect(record('dhnet1')!.pid).toBe(pid);
    const from = daemon.logs.length;
    server = await startDnsmasq(host.swNs, dir);
    await leased('dhnet1', 4, from);
  });
});

/**
 * Router advertisements stay the kernel's job (issue 12, item 1): dnsmasq advertises the prefix
 * for SLAAC, the DHCP network with ipv6autoconf gets a kernel SLAAC address while its dhcpcd
 * never solicits routers (noipv6rs) and does DHCPv4 only.
 */
describe('DHCP with router advertisements (ipv6autoconf)', { timeout: 240_000 }, () => {
  let host: NetnsHost;
  let dir: string;
  let daemon: TestDaemon;
  let client: RpcTestClient;
  let server: Dnsmasq | undefined;

  beforeAll(async () => {
    await cleanupStaleNetns('hdr-');
    dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-dhcp-ra-'));
    host = await createNetnsHost({ prefix: 'hdr-', nics: 1 });
    server = await startDnsmasq(host.swNs, dir, { ra: true, slaac: true });
    daemon = await startTestDaemon({ ns: host.ns, dir, stateDir: path.join(dir, 'state'), args: ['--dhcp-timeout', '30'] });
    client = await RpcTestClient.connect(daemon.target);
  }, 300_000);

  afterAll(async () => {
    client?.ws.close();
    await daemon?.stop('SIGKILL');
    const pid = daemon && dhcpClientRecord(daemon, 'dra')?.pid;
    if (pid) try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
    await server?.stop();
    await host?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('bootproto dhcp with ipv6autoconf: the DHCPv4 lease from dhcpcd, the IPv6 address from the kernel\'s SLAAC', async () => {
    await client.call('Host.setupNetworks', { networks: { dra: { nic: 'veth_0', bootproto: 'dhcp', ipv6autoconf: true, blockingdhcp: true } }, bondings: {}, options: NO_CHECK });
    const conf = readFileSync(path.join(daemon.runDir, 'dhcp', 'dra.conf'), 'utf8');
    expect(conf).toMatch(/^noipv6rs$/m);
    // the kernel forms 2001:db8::<EUI-64>/64 from the advertised prefix once the RA comes
    const slaac = /2001:db8::[0-9a-f:]+\/64/;
    const deadline = Date.now() + 60_000;
    let v6 = '';
    while (!slaac.test(v6) && Date.now() < deadline) {
      await execa('ip', ['netns', 'exec', host.ns, 'ip', '-6', 'monitor', 'address'], { timeout: 3_000, reject: false });
      v6 = await host.ip(['-6', '-o', 'addr', 'show', 'dev', 'dra', 'scope', 'global']);
    }
    expect(v6).toMatch(/2001:db8::[0-9a-f:]+\/64 scope global dynamic mngtmpaddr|2001:db8::[0-9a-f:]+\/64 scope global dynamic/);
    const net = (await client.call<{ networks: Record<string, any> }>('Host.getNetworkCapabilities')).networks.dra;
    expect(net).toMatchObject({ dhcpv4: true, dhcpv6: false, ipv6autoconf: true, ipv4addrs: [expect.stringMatching(/^192\.0\.2\./)] });
    expect(net.ipv6addrs).toEqual(expect.arrayContaining([expect.stringMatching(slaac)]));
  });
});
