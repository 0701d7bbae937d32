/** Address arithmetic for libvirt's range checks (DHCP ranges inside their subnet, NAT ranges in order). */
import { isIPv4, isIPv6 } from 'node:net';
import type { IpDef } from './model.js';

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

export function netmaskBits(mask: string): number | undefined {
  const n = ipToBigInt(mask);
  const bits = n.toString(2).padStart(32, '0');
  return /^1*0*$/.test(bits) ? bits.indexOf('0') === -1 ? 32 : bits.indexOf('0') : undefined;
}

/** libvirt's virNetworkIPDefPrefix: prefix, else netmask bits, else the classful default. */
export function ipPrefix(ip: IpDef): number {
  if (ip.prefix !== undefined) return ip.prefix;
  if (ip.netmask !== undefined) return netmaskBits(ip.netmask) ?? 0;
  if (isIPv6(ip.address)) return 64;
  const first = Number(ip.address.split('.')[0]);
  if ((first & 0x80) === 0) return 8;
  if ((first & 0xc0) === 0x80) return 16;
  if ((first & 0xe0) === 0xc0) return 24;
  return 32;
}

export function inSubnet(addr: string, net: string, prefix: number): boolean {
  const width = isIPv4(net) ? 32 : 128;
  if (isIPv4(addr) !== isIPv4(net)) return false;
  const shift = BigInt(width - prefix);
  return ipToBigInt(addr) >> shift === ipToBigInt(net) >> shift;
}
