/** Address syntax checks and conversions (pure). */
import { isIPv4, isIPv6 } from 'node:net';

export const isIpv4 = (s: unknown): s is string => typeof s === 'string' && isIPv4(s);
export const isIpv6 = (s: unknown): s is string => typeof s === 'string' && isIPv6(s);

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
  if (!m || !isIPv6(m[1]!) || Number(m[2]) > 128) return null;
  return `${canonicalIpv6(m[1]!)}/${Number(m[2])}`;
}

/** Is the address in the same IPv4 subnet as addr/prefix? */
export function sameIpv4Subnet(a: string, b: string, prefix: number): boolean {
  const toInt = (s: string) => s.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((toInt(a) & mask) >>> 0) === ((toInt(b) & mask) >>> 0);
}
