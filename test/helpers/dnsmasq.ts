/**
 * dnsmasq as the DHCPv4/DHCPv6 (and RA) server of a test's switch namespace, as VDSM's own
 * functional tests use it. Its log (--log-dhcp) is kept, so a test waits for the server's own
 * words (DHCPACK, DHCPRELEASE) instead of sleeping.
 *
 *   const server = await startDnsmasq(host.swNs, dir, { hosts: ['02:..:..,192.0.2.140'] });
 *   await server.waitLog(/DHCPRELEASE/);
 *   await server.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface DnsmasqOptions {
  /** dhcp-host entries (MAC,address) */
  hosts?: string[];
  /** also send router advertisements */
  ra?: boolean;
  /** the advertised prefix is also for SLAAC (the A flag; with `ra`) */
  slaac?: boolean;
  /** more dnsmasq arguments (another --interface with its --dhcp-range, for a VLAN) */
  extraArgs?: string[];
  /**
   * A DHCPv4-only server on another interface of the switch namespace (a routed port with a
   * subnet of its own): dnsmasq binds its DHCP socket to its one interface, so it runs next to
   * the switch's own server.
   */
  subnet?: { iface: string; range: string; router: string };
}

export interface Dnsmasq {
  proc: ChildProcess;
  log(): string;
  waitLog(re: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  stop(): Promise<void>;
}

export const DHCP_DNS4 = '192.0.2.53';
export const DHCP_DNS6 = '2001:db8::53';

export async function startDnsmasq(swNs: string, dir: string, o: DnsmasqOptions = {}): Promise<Dnsmasq> {
  const sub = o.subnet;
  const serve = sub
    ? [`--interface=${sub.iface}`, `--dhcp-range=${sub.range},255.255.255.0,2m`, `--dhcp-option=option:router,${sub.router}`]
    : ['--interface=sw', '--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,2m', `--dhcp-range=2001:db8::100,2001:db8::150,${o.slaac ? 'slaac,' : ''}64,2m`,
      '--dhcp-option=option:router,192.0.2.1', `--dhcp-option=option:dns-server,${DHCP_DNS4}`, `--dhcp-option=option6:dns-server,[${DHCP_DNS6}]`];
  const args = [
    'netns', 'exec', swNs, 'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--bind-interfaces', ...serve,
    `--dhcp-leasefile=${path.join(dir, `dnsmasq-${swNs}${sub ? `-${sub.iface}` : ''}.leases`)}`, '--dhcp-authoritative', '--log-dhcp', '--log-facility=-', '--pid-file=',
    ...(o.ra ? ['--enable-ra'] : []),
    ...(o.extraArgs ?? []),
    ...(o.hosts ?? []).map((h) => `--dhcp-host=${h}`),
  ];
  const proc = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters = new Set<() => void>();
  const take = (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of waiters) w();
  };
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => { for (const w of waiters) w(); resolve(); }));
  const waitLog = (re: RegExp, timeoutMs = 30_000, from = 0) => new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = re.exec(text.slice(from));
      if (m) return done(() => resolve(m[0]));
      if (proc.exitCode !== null || proc.signalCode !== null) done(() => reject(new Error(`dnsmasq exited:\n${text}`)));
    };
    const timer = setTimeout(() => done(() => reject(new Error(`dnsmasq never logged ${re}:\n${text.slice(-3000)}`))), timeoutMs);
    const done = (fn: () => void) => { clearTimeout(timer); waiters.delete(check); fn(); };
    waiters.add(check);
    check();
  });
  await waitLog(/started, version/);
  // DHCPv6 needs its socket bound on sw; dnsmasq says so when it has the range
  await waitLog(sub ? /DHCP, IP range/ : /DHCPv6, IP range/);
  return {
    proc,
    log: () => text,
    waitLog,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
