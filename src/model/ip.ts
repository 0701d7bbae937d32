/**
 * The one IP-address module (pure): syntax, canonical text, netmask/prefix and subnet maths,
 * for validation, capabilities, the planner, DHCP leases and libvirt's network XML alike.
 * Syntax is node's (net.isIPv4/isIPv6); the arithmetic is on the address's integer value, so
 * that no URL parser or string trick decides what an address is.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const isIpv4 = (s: unknown): s is string => typeof s === 'string' && isIPv4(s);
/**
 * node's isIPv6 also accepts a zone id (fe80::1%eth0); an address in a network's config has
 * none (the interface is the network's own), so a zone id is refused like any bad address.
 */
export const isIpv6 = (s: unknown): s is string => typeof s === 'string' && !s.includes('%') && isIPv6(s);

/** The 32-bit (IPv4) or 128-bit (IPv6) value of a valid address, an embedded IPv4 tail included. */
export function ipToBigInt(ip: string): bigint {
  if (isIPv4(ip)) return ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  const [head = '', tail = ''] = ip.includes('::') ? ip.split('::') : [ip, ''];
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  let h = groups(head);
  let t = groups(tail);
  // an embedded IPv4 tail counts as two groups
  const v4 = (arr: string[]) => {
    const last = arr[arr.length - 1];
    if (last !== undefined && last.includes('.')) {
      const n = ipToBigInt(last);
      return [...arr.slice(0, -1), (n >> 16n).toString(16), (n & 0xffffn).toString(16)];
    }
    return arr;
  };
  if (ip.includes('::')) t = v4(t);
  else h = v4(h);
  const fill = Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/**
 * Canonical text of a valid IPv6 address (RFC 5952: lower case, no leading zeros, the first
 * longest run of two or more zero groups as '::', no dotted tail), as iproute2 prints it.
 */
export function canonicalIpv6(addr: string): string {
  const n = ipToBigInt(addr);
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = Math.max(j, i + 1);
  }
  const hex = groups.map((g) => g.toString(16));
  return best < 0 ? hex.join(':') : `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Why an IPv4 address cannot be a host's address or a gateway (unspecified, multicast, broadcast), or null. */
export function ipv4UnicastProblem(addr: string): string | null {
  const n = ipToBigInt(addr);
  if (n === 0n) return 'is the unspecified address';
  if (n >> 28n === 0xen) return 'is a multicast address';
  if (n === 0xffffffffn) return 'is the broadcast address';
  return null;
}

/** The same for IPv6 (unspecified, multicast); `addr` is a valid IPv6 address. */
export function ipv6UnicastProblem(addr: string): string | null {
  const n = ipToBigInt(addr);
  if (n === 0n) return 'is the unspecified address';
  if (n >> 120n === 0xffn) return 'is a multicast address';
  return null;
}

/** Dotted netmask → prefix length, or null when it is not an IPv4 address or not contiguous. */
export function netmaskToPrefix(mask: string): number | null {
  if (!isIPv4(mask)) return null;
  const bits = ipToBigInt(mask).toString(2).padStart(32, '0');
  const ones = bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
  return bits.slice(ones).includes('1') ? null : ones;
}

/** Prefix length → dotted netmask (clamped to 0..32). */
export function prefixToNetmask(prefix: number): string {
  const bits = prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
}

/** 'addr/prefix' with a valid IPv6 address and prefix 0..128, canonicalized; null when invalid. */
export function parseIpv6Cidr(s: string): string | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m || !isIpv6(m[1]) || Number(m[2]) > 128) return null;
  return `${canonicalIpv6(m[1]!)}/${Number(m[2])}`;
}

/** Whether `addr` lies in net/prefix; false across families or for a string that is not an address. */
export function inSubnet(addr: string, net: string, prefix: number): boolean {
  const v4 = isIPv4(net);
  if (v4 !== isIPv4(addr) || (!v4 && (!isIPv6(net) || !isIPv6(addr)))) return false;
  const shift = BigInt(Math.max(0, (v4 ? 32 : 128) - prefix));
  return ipToBigInt(addr) >> shift === ipToBigInt(net) >> shift;
}

/** The network of `addr/prefix` as iproute2 prints a rule's or route's prefix: '192.0.2.0/24', '2001:db8::/64'. */
export function networkOf(addr: string, prefix: number): string {
  const bits = isIPv4(addr) ? 32 : 128;
  const host = BigInt(bits - prefix);
  const n = (ipToBigInt(addr) >> host) << host;
  if (bits === 32) return `${[24n, 16n, 8n, 0n].map((s) => (n >> s) & 255n).join('.')}/${prefix}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  return `${canonicalIpv6(groups.join(':'))}/${prefix}`;
}
