import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { holderLeaseResolvText, LeaseDns, leaseResolvText } from '../../../src/dhcp/dns.js';
import type { Lease } from '../../../src/model/lease.js';
import type { NetworkChanger } from '../../../src/model/changer.js';
import type { RequestContext } from '../../../src/model/context.js';
import { parseLeaseFile, sameLease } from '../../../src/dhcp/lease.js';
import { clientConf, clientSpecs, planClients, type ClientSpec } from '../../../src/dhcp/spec.js';
import type { HostConfig, Network } from '../../../src/model/types.js';

const net = (name: string, over: Partial<Network> = {}): Network => ({
  name, bridged: true, mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: false, nameservers: [],
  bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy', bootproto: 'none', dhcpv6: false, ...over,
});
const config = (...nets: Network[]): HostConfig => ({ networks: Object.fromEntries(nets.map((n) => [n.name, n])), bonds: {} });

describe('lease files (the hook script\'s one schema)', () => {
  it('reads a v4 lease and a v6 one, canonical IPv6', () => {
    expect(parseLeaseFile('reason=BOUND\naddress=192.0.2.50/24\nrouter=192.0.2.1\ndns=192.0.2.53\n', 4))
      .toEqual({ reason: 'BOUND', addresses: ['192.0.2.50/24'], routers: ['192.0.2.1'], dns: ['192.0.2.53'] });
    expect(parseLeaseFile('reason=BOUND6\naddress=2001:DB8:0::50/128\ndns=2001:db8::53\n', 6))
      .toEqual({ reason: 'BOUND6', addresses: ['2001:db8::50/128'], routers: [], dns: ['2001:db8::53'] });
    expect(parseLeaseFile('reason=EXPIRE\n', 4).addresses).toEqual([]);
  });

  it.each([
    ['no reason', 'address=192.0.2.50/24\n', 'reason'],
    ['an unknown key', 'reason=BOUND\nroute=x\n', 'bad line'],
    ['a bad address', 'reason=BOUND\naddress=192.0.2.500/24\n', 'bad address'],
    ['a prefix out of range', 'reason=BOUND\naddress=192.0.2.5/33\n', 'bad address'],
    ['an IPv6 router (v6 routers come from RAs)', 'reason=BOUND\nrouter=2001:db8::1\n', 'bad line'],
    ['a value with a newline smuggled in', 'reason=BOUND\ndns=192.0.2.53 nameserver 6.6.6.6\n', 'bad line'],
    ['a line without =', 'reason=BOUND\nhello\n', 'key=value'],
  ])('refuses a file with %s', (_what, text, word) => {
    expect(() => parseLeaseFile(text, 4)).toThrow(word);
  });

  it('a renewal with the same addresses is no news', () => {
    const a = parseLeaseFile('reason=BOUND\naddress=192.0.2.50/24\n', 4);
    expect(sameLease(a, parseLeaseFile('reason=RENEW\naddress=192.0.2.50/24\n', 4))).toBe(true);
    expect(sameLease(a, parseLeaseFile('reason=BOUND\naddress=192.0.2.51/24\n', 4))).toBe(false);
    expect(sameLease(a, undefined)).toBe(false);
  });
});

describe('clients a config needs', () => {
  it('one per dynamic network, on its IP device, those whose NIC is gone left out', () => {
    const cfg = config(
      net('a', { nic: 'eth0', bootproto: 'dhcp', defaultRoute: true }),
      net('b', { nic: 'eth1', vlan: 5, bridged: false, dhcpv6: true }),
      net('c', { nic: 'eth2' }),
      net('d', { nic: 'gone', bootproto: 'dhcp' }),
    );
    expect([...clientSpecs(cfg, (d) => d !== 'gone').values()]).toEqual([
      { dev: 'a', network: 'a', v4: true, v6: false, defaultRoute: true },
      { dev: 'eth1.5', network: 'b', v4: false, v6: true, defaultRoute: false },
    ]);
  });

  it('a changed client is stopped and started again; the same one is kept', () => {
    const s = (dev: string, over: Partial<ClientSpec> = {}): ClientSpec => ({ dev, network: dev, v4: true, v6: false, defaultRoute: false, ...over });
    const have = new Map([['a', s('a')], ['b', s('b')], ['c', s('c')]]);
    const want = new Map([['a', s('a')], ['b', s('b', { defaultRoute: true })], ['d', s('d')]]);
    const plan = planClients(want, have);
    expect(plan.stop.map((c) => c.dev)).toEqual(['b', 'c']);
    expect(plan.start.map((c) => c.dev)).toEqual(['b', 'd']);
  });

  it('the client touches only its interface: no router solicitation, no gateway off the defaultRoute network, DHCPv6 only when asked', () => {
    const base = { dev: 'a', network: 'a', v4: true, v6: false, defaultRoute: false };
    expect(clientConf(base)).toMatch(/^noipv6rs$/m);
    expect(clientConf(base)).toMatch(/^nogateway$/m);
    expect(clientConf(base)).not.toMatch(/ia_na/);
    expect(clientConf({ ...base, defaultRoute: true, v6: true })).not.toMatch(/nogateway/);
    expect(clientConf({ ...base, v6: true })).toMatch(/^ia_na$/m);
  });
});

describe('auto DNS (VDSM\'s rule)', () => {
  const lease = { v4: { reason: 'BOUND', addresses: ['192.0.2.5/24'], routers: [], dns: ['192.0.2.53'] }, v6: { reason: 'BOUND6', addresses: [], routers: [], dns: ['2001:db8::53'] } };
  it('only the defaultRoute network, only without static nameservers', () => {
    const holder = net('m', { nic: 'eth0', bootproto: 'dhcp', defaultRoute: true });
    expect(leaseResolvText(config(holder), 'm', lease)).toBe('# Generated by hostnetd from the DHCP lease of network m\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n');
    expect(leaseResolvText(config({ ...holder, nameservers: ['192.0.2.99'] }), 'm', lease)).toBeNull();
    expect(leaseResolvText(config({ ...holder, defaultRoute: false }), 'm', lease)).toBeNull();
    expect(leaseResolvText(config(holder, net('o', { nic: 'eth1', bootproto: 'dhcp' })), 'o', lease)).toBeNull();
    expect(leaseResolvText(config(holder), 'm', {})).toBeNull();
  });
});

describe('lease nameservers outside a change (LeaseDns)', () => {
  const holder = net('m', { nic: 'eth0', bootproto: 'dhcp', defaultRoute: true });
  const dns = (servers: string[]): Lease => ({ v4: { reason: 'BOUND', addresses: ['192.0.2.5/24'], routers: [], dns: servers } });
  const want = (server: string) => `# Generated by hostnetd from the DHCP lease of network m\nnameserver ${server}\n`;
  const log = pino({ level: 'silent' });

  const fixture = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-leasedns-'));
    const file = path.join(dir, 'resolv.conf');
    writeFileSync(file, 'nameserver 192.0.2.99\n');
    const leases = new Map<string, Lease>();
    const d = new LeaseDns({ file, config: () => config(holder), lease: (dev) => leases.get(dev), log });
    return { dir, file, leases, d, text: () => readFileSync(file, 'utf8'), done: () => rmSync(dir, { recursive: true, force: true }) };
  };

  it('the holder\'s lease names the nameservers; none without a dynamic holder that has no static ones', () => {
    expect(holderLeaseResolvText(config(holder), () => dns(['192.0.2.53']))).toEqual({ dev: 'm', text: want('192.0.2.53') });
    expect(holderLeaseResolvText(config({ ...holder, nameservers: ['192.0.2.99'] }), () => dns(['192.0.2.53']))).toBeNull();
    expect(holderLeaseResolvText(config({ ...holder, bootproto: 'none' }), () => dns(['192.0.2.53']))).toBeNull();
    expect(holderLeaseResolvText(config(holder), () => undefined)).toBeNull();
  });

  it('writes nothing until the start\'s recovery is done, then the lease already there', async () => {
    const f = fixture();
    try {
      f.leases.set('m', dns(['192.0.2.53']));
      await f.d.follow('m');
      expect(f.text()).toBe('nameserver 192.0.2.99\n');
      await f.d.start();
      expect(f.text()).toBe(want('192.0.2.53'));
      f.leases.set('m', dns(['192.0.2.54']));
      await f.d.follow('m');
      expect(f.text()).toBe(want('192.0.2.54'));
    } finally {
      f.done();
    }
  });

  it('a lease during a change is left to the change (its rollback restores what it journaled); after it, the file follows', async () => {
    const f = fixture();
    try {
      await f.d.start();
      let during = '';
      const inner: NetworkChanger = {
        setup: async () => {
          f.leases.set('m', dns(['192.0.2.53']));
          await f.d.follow('m');
          during = f.text();
          throw new Error('the change failed');
        },
        setSafe: async () => undefined,
      };
      const ctx = { log } as unknown as RequestContext;
      await expect(f.d.wrap(inner).setup({ networks: {}, bondings: {}, options: {} } as never, ctx)).rejects.toThrow('the change failed');
      expect(during).toBe('nameserver 192.0.2.99\n');
      expect(f.text()).toBe(want('192.0.2.53'));
    } finally {
      f.done();
    }
  });
});
