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
