import { describe, expect, it } from 'vitest';
import {
  canonicalIpv6, inSubnet, networkOf, ipToBigInt, ipv4UnicastProblem, ipv6UnicastProblem, isIpv4, isIpv6,
  netmaskToPrefix, parseIpv6Cidr, prefixToNetmask,
} from '../../../src/model/ip.js';

// The WHATWG URL serializer is what canonicalIpv6 used before; the integer form must print the same.
const viaUrl = (a: string) => new URL(`http://[${a}]/`).hostname.slice(1, -1);

describe('the one IP module', () => {
  it('reads syntax as node does, without IPv6 zone ids', () => {
    expect(isIpv4('192.0.2.1')).toBe(true);
    expect(isIpv4('192.0.2.256')).toBe(false);
    expect(isIpv4(7)).toBe(false);
    expect(isIpv6('2001:db8::1')).toBe(true);
    expect(isIpv6('fe80::1%eth0')).toBe(false);
    expect(isIpv6('192.0.2.1')).toBe(false);
  });

  it('prints IPv6 as iproute2 and the former URL trick do, for every shape of zero run and case', () => {
    const cases = [
      '::', '::1', '1::', '2001:DB8::1', '2001:db8:0:0:1:0:0:1', '2001:0db8:0000:0000:0000:0000:0000:0001',
      '2001:db8:0:1:1:1:1:1', '1:0:0:2:0:0:0:3', '0:0:1:0:0:1:0:0', 'fe80::a00:27ff:fe4e:66a1', '::ffff:192.0.2.1',
      '64:ff9b::192.0.2.33', 'ff02::1:ff00:1', '1:2:3:4:5:6:7:8', '0:1:2:3:4:5:6:7', '1:2:3:4:5:6:7:0',
    ];
    for (const c of cases) expect(canonicalIpv6(c), c).toBe(viaUrl(c));
    expect(canonicalIpv6('2001:DB8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIpv6('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
  });

  it('converts netmasks and prefixes both ways, refusing non-contiguous masks', () => {
    expect(netmaskToPrefix('255.255.255.0')).toBe(24);
    expect(netmaskToPrefix('255.255.255.255')).toBe(32);
    expect(netmaskToPrefix('0.0.0.0')).toBe(0);
    expect(netmaskToPrefix('255.0.255.0')).toBeNull();
    expect(netmaskToPrefix('255.255.255')).toBeNull();
    expect(netmaskToPrefix('ffff::')).toBeNull();
    for (let p = 0; p <= 32; p++) expect(netmaskToPrefix(prefixToNetmask(p))).toBe(p);
    expect(prefixToNetmask(20)).toBe('255.255.240.0');
    expect(prefixToNetmask(40)).toBe('255.255.255.255');
  });

  it('tells a subnet member in both families, and never across them', () => {
    expect(inSubnet('192.0.2.77', '192.0.2.1', 24)).toBe(true);
    expect(inSubnet('192.0.3.1', '192.0.2.1', 24)).toBe(false);
    expect(inSubnet('10.1.2.3', '192.0.2.1', 0)).toBe(true);
    expect(inSubnet('2001:db8::ff', '2001:db8::1', 64)).toBe(true);
    expect(inSubnet('2001:db9::1', '2001:db8::1', 32)).toBe(false);
    expect(inSubnet('::ffff:192.0.2.1', '192.0.2.1', 24)).toBe(false);
    expect(inSubnet('not-an-ip', '192.0.2.1', 24)).toBe(false);
    expect(ipToBigInt('::ffff:192.0.2.1')).toBe(0xffffc0000201n);
  });

  it('names addresses that cannot be a host or a gateway', () => {
    expect(ipv4UnicastProblem('0.0.0.0')).toBe('is the unspecified address');
    expect(ipv4UnicastProblem('224.0.0.1')).toBe('is a multicast address');
    expect(ipv4UnicastProblem('239.255.255.255')).toBe('is a multicast address');
    expect(ipv4UnicastProblem('255.255.255.255')).toBe('is the broadcast address');
    expect(ipv4UnicastProblem('192.0.2.1')).toBeNull();
    expect(ipv6UnicastProblem('::')).toBe('is the unspecified address');
    expect(ipv6UnicastProblem('FF02::1')).toBe('is a multicast address');
    expect(ipv6UnicastProblem('ff::1')).toBeNull();
    expect(ipv6UnicastProblem('2001:db8::1')).toBeNull();
  });

  it('reads addr/prefix for IPv6, canonicalized', () => {
    expect(parseIpv6Cidr('2001:DB8:0::10/64')).toBe('2001:db8::10/64');
    expect(parseIpv6Cidr('2001:db8::10/129')).toBeNull();
    expect(parseIpv6Cidr('2001:db8::10')).toBeNull();
    expect(parseIpv6Cidr('fe80::1%eth0/64')).toBeNull();
  });
});

describe('networkOf', () => {
  it('prints the network of an address as iproute2 prints a prefix', () => {
    expect(networkOf('192.0.2.77', 24)).toBe('192.0.2.0/24');
    expect(networkOf('10.1.2.3', 0)).toBe('0.0.0.0/0');
    expect(networkOf('10.1.2.3', 32)).toBe('10.1.2.3/32');
    expect(networkOf('2001:db8:0:1::99', 64)).toBe('2001:db8:0:1::/64');
    expect(networkOf('2001:db8::1', 128)).toBe('2001:db8::1/128');
    expect(networkOf('2001:db8:ffff::1', 33)).toBe('2001:db8:8000::/33');
  });
});
