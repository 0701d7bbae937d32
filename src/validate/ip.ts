/** Address syntax checks and conversions (pure). */
import { isIPv4, isIPv6 } from 'node:net';

export const isIpv4 = (s: unknown): s is string => typeof s === 'string' && isIPv4(s);
/**
 * node's isIPv6 also accepts a zone id (fe80::1%eth0); an address in a network's config has
 * none (the interface is the network's own), so a zone id is refused like any bad address.
 */
export const isIpv6 = (s: unknown): s is string => typeof s === 'string' && !s.includes('%') && isIPv6(s);

const ipv4Int = (s: string) => s.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);

/** Why an IPv4 address cannot be a host's address or a gateway (unspecified, multicast, broadcast), or null. */
export function ipv4UnicastProblem(addr: string): string | null {
  const n = ipv4Int(addr);
  if (n === 0) return 'is the unspecified address';
  if (n >>> 28 === 0xe) return 'is a multicast address';
  if (n === 0xffffffff) return 'is the broadcast address';
  return null;
}

/** The same for IPv6 (unspecified, multicast); `addr` is a valid IPv6 address. */
export function ipv6UnicastProblem(addr: string): string | null {
  const c = canonicalIpv6(addr);
  if (c === '::') return 'is the unspecified address';
  if (/^ff[0-9a-f]{2}:/.test(c)) return 'is a multicast address';
  return null;
}

/** Dotted netmask → prefix length, or null when the mask is not contiguous. */
export function netmaskToPrefix(mask: string): number | null {
  if (!isIPv4(mask)) return null;
  const bits = mask.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('');
  const ones = bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
  return bits.slice(ones).includes('1') ? null : ones;
}

export function prefixToNetmask(prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (mask >>> s) & 255).join('.');
}

/** Canonical text of an IPv6 address (lower case, compressed) as iproute2 prints it. */
export function canonicalIpv6(addr: string): string {
  const url = new URL(`http://[${addr}]/`);
  return url.hostname.slice(1, -1);
}

/** 'addr/prefix' with a valid IPv6 address and prefix 0..128, canonicalized; null when invalid. */
export function parseIpv6Cidr(s: string): string | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m || !isIpv6(m[1]) || Number(m[2]) > 128) return null;
  return `${canonicalIpv6(m[1]!)}/${Number(m[2])}`;
}

/** Is the address in the same IPv4 subnet as addr/prefix? */
export function sameIpv4Subnet(a: string, b: string, prefix: number): boolean {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((ipv4Int(a) & mask) >>> 0) === ((ipv4Int(b) & mask) >>> 0);
}

/** The network an IPv4 address/prefix belongs to, as 'a.b.c.d/prefix' (how the kernel prints a rule's prefix). */
export function ipv4Network(addr: string, prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const n = (ipv4Int(addr) & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')}/${prefix}`;
}

/** The network an IPv6 address/prefix belongs to, canonical, as 'addr/prefix'. */
export function ipv6Network(addr: string, prefix: number): string {
  const [head = '', tail = ''] = canonicalIpv6(addr).split('::') as [string, string?];
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = canonicalIpv6(addr).includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  let n = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  const mask = prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
  n &= mask;
  const out: string[] = [];
  for (let i = 7; i >= 0; i--) out.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  return `${canonicalIpv6(out.join(':'))}/${prefix}`;
}
