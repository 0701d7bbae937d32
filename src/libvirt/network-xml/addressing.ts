/** The network's own addresses and static routes (formatnetwork "Addressing", "Static Routes"): <ip> and <route>. */
import { isIPv4, isIPv6 } from 'node:net';
import { attr, child, ipAttr, oneOf, required, uint, yesNo, type El, type XmlOut } from './dom.js';
import { parseDhcp, writeDhcp } from './dns-dhcp.js';
import { netmaskToPrefix } from '../../model/ip.js';
import { networkXmlError, type IpDef, type RouteDef } from './model.js';

export function parseIp(e: El): IpDef {
  const address = ipAttr(e, 'address', 'ip', true) as string;
  const ip: IpDef = { address };
  const family = oneOf(e, 'family', ['ipv4', 'ipv6'] as const, 'ip');
  if (family !== undefined) {
    if ((family === 'ipv4') !== isIPv4(address)) {
      throw networkXmlError('ip', `family='${family}' does not match address ${address}`);
    }
    ip.family = family;
  }
  const v6 = isIPv6(address);
  const netmask = attr(e, 'netmask');
  const prefix = uint(e, 'prefix', 'ip', v6 ? 128 : 32);
  if (netmask !== undefined && prefix !== undefined) {
    throw networkXmlError('ip', `address ${address} has both a netmask and a prefix`);
  }
  if (netmask !== undefined) {
    if (v6) throw networkXmlError('ip', `netmask is not supported for IPv6 address ${address}, use prefix`);
    if (netmaskToPrefix(netmask) === null) {
      throw networkXmlError('ip', `netmask '${netmask}' is not a valid IPv4 netmask`);
    }
    ip.netmask = netmask;
  }
  if (prefix !== undefined) ip.prefix = prefix;
  const lp = yesNo(e, 'localPtr', 'ip');
  if (lp !== undefined) ip.localPtr = lp;
  const tftp = child(e, 'tftp');
  if (tftp) {
    if (v6) throw networkXmlError('tftp', `<tftp> is not supported on IPv6 address ${address}`);
    ip.tftp = { root: required(tftp, 'root', 'tftp') };
  }
  const dhcp = child(e, 'dhcp');
  if (dhcp) ip.dhcp = parseDhcp(dhcp, ip);
  return ip;
}

export function parseRoute(e: El): RouteDef {
  const address = ipAttr(e, 'address', 'route', true) as string;
  const gateway = ipAttr(e, 'gateway', 'route', true) as string;
  if (isIPv4(address) !== isIPv4(gateway)) {
    throw networkXmlError('route', `gateway ${gateway} and address ${address} are of different families`);
  }
  const r: RouteDef = { address, gateway };
  const family = oneOf(e, 'family', ['ipv4', 'ipv6'] as const, 'route');
  if (family !== undefined) {
    if ((family === 'ipv4') !== isIPv4(address)) {
      throw networkXmlError('route', `family='${family}' does not match address ${address}`);
    }
    r.family = family;
  }
  const netmask = attr(e, 'netmask');
  const prefix = uint(e, 'prefix', 'route', isIPv4(address) ? 32 : 128);
  if (netmask !== undefined && prefix !== undefined) {
    throw networkXmlError('route', `route ${address} has both a netmask and a prefix`);
  }
  if (netmask !== undefined) {
    if (!isIPv4(address) || netmaskToPrefix(netmask) === null) {
      throw networkXmlError('route', `netmask '${netmask}' is not valid for route ${address}`);
    }
    r.netmask = netmask;
  }
  if (prefix !== undefined) r.prefix = prefix;
  const metric = uint(e, 'metric', 'route');
  if (metric !== undefined) {
    if (metric === 0) throw networkXmlError('route', 'metric must be greater than 0');
    r.metric = metric;
  }
  return r;
}

export function writeIp(o: XmlOut, parent: El, ip: IpDef): void {
  const e = o.el(parent, 'ip', [['family', ip.family], ['address', ip.address], ['netmask', ip.netmask], ['prefix', ip.prefix], ['localPtr', ip.localPtr]]);
  if (ip.tftp) o.el(e, 'tftp', [['root', ip.tftp.root]]);
  if (ip.dhcp) writeDhcp(o, e, ip.dhcp);
}

export function writeRoute(o: XmlOut, parent: El, r: RouteDef): void {
  o.el(parent, 'route', [['family', r.family], ['address', r.address], ['netmask', r.netmask], ['prefix', r.prefix], ['gateway', r.gateway], ['metric', r.metric]]);
}

/** libvirt's virNetworkIPDefPrefix: prefix, else netmask bits, else the classful default. */
export function ipPrefix(ip: IpDef): number {
  if (ip.prefix !== undefined) return ip.prefix;
  if (ip.netmask !== undefined) return netmaskToPrefix(ip.netmask) ?? 0;
  if (isIPv6(ip.address)) return 64;
  const first = Number(ip.address.split('.')[0]);
  if ((first & 0x80) === 0) return 8;
  if ((first & 0xc0) === 0x80) return 16;
  if ((first & 0xe0) === 0xc0) return 24;
  return 32;
}
