import { describe, expect, it } from 'vitest';
import { ErrorCode, HostnetError } from '../../../src/errors.js';
import { canonicalizeBond, canonicalizeNetwork, canonicalizeOptions, canonicalizeRequest } from '../../../src/validate/request.js';
import { mergeRequest } from '../../../src/model/merge.js';
import { validateTopology } from '../../../src/validate/topology.js';
import { emptyConfig, type HostConfig } from '../../../src/model/types.js';

function codeOf(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof HostnetError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected an error');
}

describe('network attributes', () => {
  const net = (attrs: Record<string, unknown>, name = 'net1') => canonicalizeNetwork(name, attrs);

  it.each([
    ['netmask and prefix both', { nic: 'eth0', ipaddr: '10.0.0.1', netmask: '255.0.0.0', prefix: 8 }, ErrorCode.BAD_PARAMS, 'exclusive'],
    ['bad stp value', { stp: 'maybe' }, ErrorCode.BAD_PARAMS, "'stp'"],
    ['nameservers off the defaultRoute network', { nic: 'eth0', nameservers: ['1.1.1.1'] }, ErrorCode.BAD_PARAMS, 'nameservers'],
    ['remove with other attributes', { remove: true, mtu: 9000 }, ErrorCode.BAD_PARAMS, 'remove'],
    ['bridgeless without device', { bridged: false }, ErrorCode.BAD_PARAMS, 'bridgeless'],
    ['unknown attribute', { nic: 'eth0', colour: 'blue' }, ErrorCode.BAD_PARAMS, "'colour'"],
    ['unknown bootproto', { nic: 'eth0', bootproto: 'bootp' }, ErrorCode.BAD_PARAMS, "'bootproto'"],
    ['dhcpv6 not a bool', { nic: 'eth0', dhcpv6: 'maybe' }, ErrorCode.BAD_PARAMS, 'dhcpv6'],
    ['hostQos not an object', { nic: 'eth0', hostQos: 'fast' }, ErrorCode.BAD_PARAMS, 'hostQos'],
    ['ovs not supported', { nic: 'eth0', switch: 'ovs' }, ErrorCode.BAD_PARAMS, 'ovs'],
    ['portIsolation on bridgeless', { nic: 'eth0', bridged: false, portIsolation: true }, ErrorCode.BAD_PARAMS, 'portIsolation'],
    ['macTableManager on bridgeless', { nic: 'eth0', bridged: false, macTableManager: 'libvirt' }, ErrorCode.BAD_PARAMS, 'macTableManager'],
    ['bad macTableManager', { macTableManager: 'switch' }, ErrorCode.BAD_PARAMS, 'macTableManager'],
    ['unknown bridge option', { custom: { bridge_opts: 'colour=1' } }, ErrorCode.BAD_PARAMS, 'colour'],
    ['bad mtu', { mtu: 'big' }, ErrorCode.BAD_PARAMS, 'mtu'],
    ['bad ipaddr', { nic: 'eth0', ipaddr: '300.1.1.1', prefix: 24 }, ErrorCode.BAD_ADDR, 'ipaddr'],
    ['bad netmask', { nic: 'eth0', ipaddr: '10.0.0.1', netmask: '255.0.255.0' }, ErrorCode.BAD_ADDR, 'netmask'],
    ['bad prefix', { nic: 'eth0', ipaddr: '10.0.0.1', prefix: 33 }, ErrorCode.BAD_ADDR, 'prefix'],
    ['netmask without ipaddr', { nic: 'eth0', netmask: '255.0.0.0' }, ErrorCode.BAD_ADDR, 'netmask'],
    ['gateway without ipaddr', { nic: 'eth0', gateway: '10.0.0.254' }, ErrorCode.BAD_ADDR, 'gateway'],
    ['bad gateway', { nic: 'eth0', ipaddr: '10.0.0.1', prefix: 8, gateway: 'x' }, ErrorCode.BAD_ADDR, 'gateway'],
    ['static ip with dhcp', { nic: 'eth0', ipaddr: '10.0.0.1', prefix: 8, bootproto: 'dhcp' }, ErrorCode.BAD_ADDR, 'dhcp'],
    ['bad nameserver', { nic: 'eth0', defaultRoute: true, nameservers: ['dns.example'] }, ErrorCode.BAD_ADDR, 'nameserver'],
    ['bad ipv6addr', { nic: 'eth0', ipv6addr: '2001:db8::1' }, ErrorCode.BAD_ADDR, 'ipv6addr'],
    ['bad nic name', { nic: 'eth 0' }, ErrorCode.BAD_NIC, 'nic'],
    ['bad bond name', { bonding: 'jamesbond007' }, ErrorCode.BAD_BONDING, 'bond'],
    ['vlan without device', { vlan: 10 }, ErrorCode.BAD_VLAN, 'vlan'],
    ['vlan out of range', { nic: 'eth0', vlan: 4095 }, ErrorCode.BAD_VLAN, '4094'],
    ['vlan not a number', { nic: 'eth0', vlan: 'ten' }, ErrorCode.BAD_VLAN, 'vlan'],
    ['vlan device name too long', { nic: 'eth0123456789', vlan: 100 }, ErrorCode.BAD_VLAN, 'longer than 15'],
  ])('%s', (_what, attrs, code, word) => {
    const err = codeOf(() => net(attrs));
    expect(err.code).toBe(code);
    expect(err.message).toContain("network 'net1'");
    expect(err.message).toContain(word);
  });

  it.each([
    ['', 'empty'], ['a'.repeat(16), 'longer'], ['net:1', "':'"], ['net.1', "'.'"], ['net 1', 'whitespace'],
    ['net/1', "'/'"], ['-net', "'-'"],
  ])('refuses network name %j with 27', (name, word) => {
    const err = codeOf(() => net({}, name));
    expect(err.code).toBe(ErrorCode.BAD_BRIDGE);
    expect(err.message).toContain(word);
  });

  it('fills defaults and normalizes values', () => {
    expect(net({ nic: 'eth0', vlan: '7', mtu: '9000', stp: 'on', ipaddr: '10.0.0.2', netmask: '255.255.255.0', ipv6addr: '2001:DB8:0::5/64' }))
      .toEqual({
        name: 'net1', bridged: true, nic: 'eth0', vlan: 7, mtu: 9000, stp: true,
        ipv4: { address: '10.0.0.2', prefix: 24 }, ipv6: { addresses: ['2001:db8::5/64'], autoconf: false },
        defaultRoute: false, nameservers: [], bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel',
        switch: 'legacy', bootproto: 'none', dhcpv6: false,
      });
  });

  it('bootproto dhcp and dhcpv6 are kept; blockingdhcp is volatile (only in the request)', () => {
    const req = canonicalizeRequest({ networks: { net1: { nic: 'eth0', bootproto: 'dhcp', dhcpv6: 'true', blockingdhcp: true } }, bondings: {}, options: {} });
    expect(req.networks.net1).toMatchObject({ bootproto: 'dhcp', dhcpv6: true });
    expect(req.networks.net1).not.toHaveProperty('blockingdhcp');
    expect([...req.blockingDhcp]).toEqual(['net1']);
  });

  it.each([
    ['without a client', { nic: 'eth0', blockingdhcp: true }],
    ['not a bool', { nic: 'eth0', bootproto: 'dhcp', blockingdhcp: 'soon' }],
  ])('blockingdhcp %s → 21', (_what, attrs) => {
    const err = codeOf(() => canonicalizeRequest({ networks: { net1: attrs }, bondings: {}, options: {} }));
    expect(err.code).toBe(ErrorCode.BAD_PARAMS);
    expect(err.message).toContain("network 'net1'");
    expect(err.message).toContain('blockingdhcp');
  });

  it('an isolated network is a bridge without a device', () => {
    expect(net({})).toMatchObject({ bridged: true, mtu: 1500 });
  });
});

describe('bonds and options', () => {
  it.each([
    ['bond', {}, ErrorCode.BAD_BONDING], ['bond bad', {}, ErrorCode.BAD_BONDING], ['jamesbond007', {}, ErrorCode.BAD_BONDING],
  ])('bad bond name %j → 25', (name, attrs, code) => {
    expect(codeOf(() => canonicalizeBond(name, { nics: ['eth0'], ...attrs })).code).toBe(code);
  });
  it('bond without nics → 21', () => {
    expect(codeOf(() => canonicalizeBond('bond0', { options: 'mode=1' })).code).toBe(ErrorCode.BAD_PARAMS);
  });
  it.each(['mode=9', 'mode=banana', 'colour=1', 'mode=1 lacp_rate=fast', 'mode=4 miimon=x'])('bad bond options %j → 25', (options) => {
    expect(codeOf(() => canonicalizeBond('bond0', { nics: ['eth0'], options })).code).toBe(ErrorCode.BAD_BONDING);
  });
  it('mode by number becomes its name', () => {
    expect(canonicalizeBond('bond0', { nics: ['eth1', 'eth0'], options: 'mode=4 miimon=100 lacp_rate=fast' })).toEqual({
      name: 'bond0', nics: ['eth0', 'eth1'], options: { mode: '802.3ad', miimon: '100', lacp_rate: 'fast' },
    });
  });
  it('options', () => {
    expect(canonicalizeOptions({})).toEqual({ connectivityCheck: true, connectivityTimeout: 4, commitOnSuccess: false });
    expect(codeOf(() => canonicalizeOptions({ connectivityTimeout: -1 })).code).toBe(ErrorCode.BAD_PARAMS);
    expect(codeOf(() => canonicalizeOptions({ rollback: true })).code).toBe(ErrorCode.BAD_PARAMS);
  });
});

describe('merge and topology', () => {
  const facts = { nics: new Set(['eth0', 'eth1', 'eth2']), bonds: new Set<string>() };
  const check = (running: HostConfig, networks: Record<string, Record<string, unknown>>, bondings: Record<string, Record<string, unknown>> = {}) => {
    const req = canonicalizeRequest({ networks, bondings, options: {} });
    const desired = mergeRequest(running, req, facts.bonds);
    validateTopology(desired, running, req, facts);
    return desired;
  };

  it('a named network is replaced whole: an edit that omits mtu sets 1500', () => {
    const running = check(emptyConfig(), { net1: { nic: 'eth0', mtu: 9000 } });
    expect(check(running, { net1: { nic: 'eth0' } }).networks.net1?.mtu).toBe(1500);
  });
  it('a new defaultRoute holder takes it and the nameservers from the old one', () => {
    const running = check(emptyConfig(), { a: { nic: 'eth0', defaultRoute: true, nameservers: ['192.0.2.53'] }, b: { nic: 'eth1' } });
    const d = check(running, { b: { nic: 'eth1', defaultRoute: true } });
    expect(d.networks.a).toMatchObject({ defaultRoute: false, nameservers: [] });
    expect(d.networks.b?.defaultRoute).toBe(true);
  });
  it.each<[string, Record<string, Record<string, unknown>>, Record<string, Record<string, unknown>>, number]>([
    ['two defaultRoute networks', { a: { nic: 'eth0', defaultRoute: true }, b: { nic: 'eth1', defaultRoute: true } }, {}, ErrorCode.BAD_PARAMS],
    ['missing nic', { a: { nic: 'eth9' } }, {}, ErrorCode.BAD_NIC],
    ['missing bond slave', {}, { bond0: { nics: ['eth9'] } }, ErrorCode.BAD_NIC],
    ['unknown bond', { a: { bonding: 'bond7' } }, {}, ErrorCode.BAD_BONDING],
    ['nic used by a network and a bond', { a: { nic: 'eth0' } }, { bond0: { nics: ['eth0', 'eth1'] } }, ErrorCode.USED_NIC],
    ['two networks on one device and vlan', { a: { nic: 'eth0', vlan: 5 }, b: { nic: 'eth0', vlan: 5, bridged: false } }, {}, ErrorCode.BAD_PARAMS],
    ['two untagged networks on one nic', { a: { nic: 'eth0' }, b: { nic: 'eth0', bridged: false } }, {}, ErrorCode.BAD_PARAMS],
    ['removing an unknown network', { nope: { remove: true } }, {}, ErrorCode.BAD_BRIDGE],
    ['removing an unknown bond', {}, { bond9: { remove: true } }, ErrorCode.BAD_BONDING],
  ])('%s', (_what, networks, bondings, code) => {
    expect(codeOf(() => check(emptyConfig(), networks, bondings)).code).toBe(code);
  });
  it('removing a bond a network uses → 31', () => {
    const running = check(emptyConfig(), { a: { bonding: 'bond0' } }, { bond0: { nics: ['eth0', 'eth1'] } });
    expect(codeOf(() => check(running, {}, { bond0: { remove: true } })).code).toBe(ErrorCode.USED_BOND);
  });
  it('portIsolation is fixed at creation', () => {
    const running = check(emptyConfig(), { a: { nic: 'eth0', portIsolation: true } });
    const err = codeOf(() => check(running, { a: { nic: 'eth0' } }));
    expect(err.code).toBe(ErrorCode.BAD_PARAMS);
    expect(err.message).toMatch(/portIsolation.*fixed at creation/);
  });
  it('a VLAN or a bond on a kernel without 8021q or bonding → 21 naming the module; a kernel with them accepts', () => {
    const run = (f: { bonding: boolean; vlan: boolean }, networks: Record<string, Record<string, unknown>>, bondings: Record<string, Record<string, unknown>> = {}) => {
      const req = canonicalizeRequest({ networks, bondings, options: {} });
      return () => validateTopology(mergeRequest(emptyConfig(), req, facts.bonds), emptyConfig(), req, { ...facts, features: f });
    };
    const none = { bonding: false, vlan: false };
    expect(codeOf(run(none, { a: { nic: 'eth0', vlan: 5 } }))).toMatchObject({ code: ErrorCode.BAD_PARAMS, message: expect.stringMatching(/network 'a': vlan 5 .*module 8021q/) });
    expect(codeOf(run(none, {}, { bond0: { nics: ['eth0'] } }))).toMatchObject({ code: ErrorCode.BAD_PARAMS, message: expect.stringMatching(/bond 'bond0'.*module bonding/) });
    expect(codeOf(run({ bonding: true, vlan: false }, { a: { bonding: 'bond0', vlan: 7 } }, { bond0: { nics: ['eth0'] } })).message).toMatch(/8021q/);
    expect(run({ bonding: true, vlan: true }, { a: { bonding: 'bond0', vlan: 7 } }, { bond0: { nics: ['eth0'] } })).not.toThrow();
    // a request wrong in itself keeps its own code on any kernel
    expect(codeOf(run(none, { a: { nic: 'eth0' } }, { bond0: { nics: ['eth0'] } })).code).toBe(ErrorCode.USED_NIC);
  });
  it('a bond slave carrying a VLAN device hostnetd does not manage → 24; its own VLAN networks are no obstacle', () => {
    const run = (running: HostConfig, vlans: Record<string, string[]>, bondings: Record<string, Record<string, unknown>>, networks: Record<string, Record<string, unknown>> = {}) => {
      const req = canonicalizeRequest({ networks, bondings, options: {} });
      return () => validateTopology(mergeRequest(running, req, facts.bonds), running, req, { ...facts, vlansOn: new Map(Object.entries(vlans)) });
    };
    const err = codeOf(run(emptyConfig(), { eth1: ['eth1.100'] }, { bond0: { nics: ['eth0', 'eth1'] } }));
    expect(err.code).toBe(ErrorCode.USED_NIC);
    expect(err.message).toBe("bond 'bond0': NIC 'eth1' carries VLAN device 'eth1.100' that hostnetd does not manage; a bond slave cannot carry a foreign VLAN (delete it first)");
    // hostnetd's own VLAN network on the NIC moves onto the bond in the same request: not foreign
    const running = check(emptyConfig(), { v: { nic: 'eth1', vlan: 100 } });
    expect(run(running, { eth1: ['eth1.100'] }, { bond0: { nics: ['eth0', 'eth1'] } }, { v: { bonding: 'bond0', vlan: 100 } })).not.toThrow();
    // a VLAN on a NIC that is not a slave is none of the bond's business
    expect(run(emptyConfig(), { eth2: ['eth2.100'] }, { bond0: { nics: ['eth0', 'eth1'] } })).not.toThrow();
  });
  it('several vlans on one device are fine', () => {
    expect(Object.keys(check(emptyConfig(), { a: { nic: 'eth0', vlan: 0 }, b: { nic: 'eth0', vlan: 1 }, c: { nic: 'eth0' } }).networks)).toHaveLength(3);
  });
});

describe('bad values answer 22 (never an internal error)', () => {
  const net = (attrs: Record<string, unknown>) => canonicalizeNetwork('net1', attrs);
  const deep = (n: number): unknown => {
    let v: unknown = '192.0.2.1';
    for (let i = 0; i < n; i++) v = [v];
    return v;
  };

  it.each([
    ['a zone id in ipv6addr', { nic: 'eth0', ipv6addr: 'fe80::1%eth0/64' }, 'ipv6addr'],
    ['a zone id in ipv6gateway', { nic: 'eth0', ipv6addr: '2001:db8::2/64', ipv6gateway: 'fe80::1%eth0' }, 'ipv6gateway'],
    ['a zone id in a nameserver', { nic: 'eth0', defaultRoute: true, nameservers: ['fe80::1%eth0'] }, 'nameserver'],
    ['prefix 0', { nic: 'eth0', ipaddr: '192.0.2.10', prefix: 0 }, 'prefix'],
    ['netmask 0.0.0.0', { nic: 'eth0', ipaddr: '192.0.2.10', netmask: '0.0.0.0' }, 'zero-length'],
    ['a multicast gateway', { nic: 'eth0', ipaddr: '192.0.2.10', prefix: 24, gateway: '224.0.0.1' }, 'multicast'],
    ['the unspecified gateway', { nic: 'eth0', ipaddr: '192.0.2.10', prefix: 24, gateway: '0.0.0.0' }, 'unspecified'],
    ['a multicast ipaddr', { nic: 'eth0', ipaddr: '239.1.1.1', prefix: 24 }, 'multicast'],
    ['a multicast ipv6gateway', { nic: 'eth0', ipv6addr: '2001:db8::2/64', ipv6gateway: 'ff02::1' }, 'multicast'],
    ['the unspecified ipv6gateway spelled long', { nic: 'eth0', ipv6addr: '2001:db8::2/64', ipv6gateway: '0:0:0:0:0:0:0:0' }, 'unspecified'],
    ['a multicast ipv6addr', { nic: 'eth0', ipv6addr: 'ff02::1/64' }, 'multicast'],
    ['ipv6addr with prefix 0', { nic: 'eth0', ipv6addr: '2001:db8::2/0' }, 'zero-length'],
    ['an ipaddr nested 20,000 lists deep', { nic: 'eth0', ipaddr: deep(20_000), prefix: 24 }, 'ipaddr'],
    ['a gateway nested 20,000 lists deep', { nic: 'eth0', ipaddr: '192.0.2.10', prefix: 24, gateway: deep(20_000) }, 'gateway'],
    ['a nameserver nested 20,000 lists deep', { nic: 'eth0', defaultRoute: true, nameservers: [deep(20_000)] }, 'nameserver'],
    ['an ipv6addr nested 20,000 lists deep', { nic: 'eth0', ipv6addr: deep(20_000) }, 'ipv6addr'],
  ])('%s', (_, attrs, word) => {
    const err = codeOf(() => net(attrs));
    expect(err.code).toBe(ErrorCode.BAD_ADDR);
    expect(err.message).toContain(word);
    expect(err.message.length).toBeLessThan(300);
  });

  it('other attributes nested 20,000 deep get their own code, not an internal error', () => {
    expect(codeOf(() => net({ nic: deep(20_000) })).code).toBe(ErrorCode.BAD_NIC);
    expect(codeOf(() => net({ nic: 'eth0', vlan: deep(20_000) })).code).toBe(ErrorCode.BAD_VLAN);
    expect(codeOf(() => net({ nic: 'eth0', mtu: deep(20_000) })).code).toBe(ErrorCode.BAD_PARAMS);
    expect(codeOf(() => canonicalizeOptions({ connectivityTimeout: deep(20_000) })).code).toBe(ErrorCode.BAD_PARAMS);
    expect(codeOf(() => canonicalizeBond('bond0', { nics: ['eth0'], options: deep(20_000) })).code).toBe(ErrorCode.BAD_BONDING);
  });

  it("'::' as ipv6gateway still means no gateway, as in VDSM", () => {
    expect(net({ nic: 'eth0', ipv6addr: '2001:db8::2/64', ipv6gateway: '::' })).toMatchObject({ ipv6: { addresses: ['2001:db8::2/64'] } });
  });
});
