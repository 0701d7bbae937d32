/**
 * Nameservers for capabilities, from the resolver file named by --resolv-conf. A missing
 * file means no nameservers (a fresh sandbox has none), not an error.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';

/** The `nameserver ADDR` lines of a resolv.conf, in order; comments and junk ignored. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    // an IPv6 nameserver may carry a zone (fe80::1%eth0); the address part decides validity
    if (m && isIP(m[1]!.split('%')[0]!) !== 0) out.push(m[1]!);
  }
  return out;
}

export async function readNameservers(path: string): Promise<string[]> {
  try {
    return parseResolvConf(await readFile(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}
