/**
 * The lease files the hook script (scripts/dhcp-hook.sh) writes, one per interface and family:
 *   reason=BOUND
 *   address=192.0.2.50/24        (IPv6: 2001:db8::50/128; none when the lease is lost)
 *   router=192.0.2.1             (IPv4 only)
 *   dns=192.0.2.53
 * This is the one schema of that file: every line must be one of these keys with a valid value,
 * or the file is refused whole (a DHCP server's data never reaches the kernel or the resolver
 * file unchecked). Pure.
 */
import { isIpv4, isIpv6, canonicalIpv6 } from '../model/ip.js';
import type { FamilyLease } from '../model/lease.js';

const REASON_RE = /^[A-Z0-9_]{1,20}$/;

export function parseLeaseFile(text: string, family: 4 | 6): FamilyLease {
  const isAddr = family === 4 ? isIpv4 : isIpv6;
  const norm = (a: string) => (family === 6 ? canonicalIpv6(a) : a);
  const out: FamilyLease = { reason: '', addresses: [], routers: [], dns: [] };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (eq < 0) throw new Error(`not key=value: ${JSON.stringify(line.slice(0, 80))}`);
    if (key === 'reason' && REASON_RE.test(value)) out.reason = value;
    else if (key === 'address') out.addresses.push(checkCidr(value, family, isAddr, norm));
    else if (key === 'router' && family === 4 && isAddr(value)) out.routers.push(value);
    else if (key === 'dns' && isAddr(value)) out.dns.push(norm(value));
    else throw new Error(`bad line ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (out.reason === '') throw new Error('no reason line');
  return out;
}

function checkCidr(value: string, family: 4 | 6, isAddr: (s: unknown) => boolean, norm: (a: string) => string): string {
  const [addr, len, more] = value.split('/');
  const n = Number(len);
  if (more !== undefined || addr === undefined || !isAddr(addr) || !/^\d{1,3}$/.test(len ?? '') || n > (family === 4 ? 32 : 128)) {
    throw new Error(`bad address ${JSON.stringify(value.slice(0, 80))}`);
  }
  return `${norm(addr)}/${n}`;
}

/** The same addresses (a renewal that kept them is no news to the engine). */
export function sameLease(a: FamilyLease | undefined, b: FamilyLease | undefined): boolean {
  const key = (l: FamilyLease | undefined) => (l ? JSON.stringify([l.addresses, l.routers, l.dns]) : '');
  return key(a) === key(b);
}

export const hasAddress = (l: FamilyLease | undefined): boolean => (l?.addresses.length ?? 0) > 0;
