/**
 * The services libvirt's dnsmasq gives guests (formatnetwork "Addressing"): <domain>, <dns>
 * (forwarders, txt, srv, host records) and the <dhcp> of an <ip> (ranges, static hosts, bootp).
 */
import { isIPv6 } from 'node:net';
import { attr, child, children, ipAttr, oneOf, parseMac, required, textOf, uint, yesNo, type El, type XmlOut } from './dom.js';
import { inSubnet, ipToBigInt } from '../../model/ip.js';
import { ipPrefix } from './addressing.js';
import { networkXmlError, type DhcpDef, type DnsDef, type IpDef, type Lease, type NetworkDef } from './model.js';
import { isMulticastMac } from '../../model/mac.js';

export function parseDomain(root: El, def: NetworkDef): void {
  const dom = child(root, 'domain');
  if (!dom) return;
  def.domain = { name: required(dom, 'name', 'domain') };
  const lo = yesNo(dom, 'localOnly', 'domain');
  if (lo !== undefined) def.domain.localOnly = lo;
  const reg = yesNo(dom, 'register', 'domain');
  if (reg !== undefined) def.domain.register = reg;
}

export function parseDns(e: El): DnsDef {
  const dns: DnsDef = { forwarders: [], txts: [], srvs: [], hosts: [] };
  const enable = yesNo(e, 'enable', 'dns');
  if (enable !== undefined) dns.enable = enable;
  const fpn = yesNo(e, 'forwardPlainNames', 'dns');
  if (fpn !== undefined) dns.forwardPlainNames = fpn;
  for (const f of children(e, 'forwarder')) {
    const addr = ipAttr(f, 'addr', 'forwarder', false);
    const domain = attr(f, 'domain');
    if (addr === undefined && domain === undefined) {
      throw networkXmlError('forwarder', 'needs at least one of addr or domain');
    }
    dns.forwarders.push({ ...(addr !== undefined ? { addr } : {}), ...(domain !== undefined ? { domain } : {}) });
  }
  for (const t of children(e, 'txt')) {
    const name = required(t, 'name', 'txt');
    if (name.startsWith('.') || /\s/.test(name)) throw networkXmlError('txt', `record name '${name}' is not valid`);
    dns.txts.push({ name, value: required(t, 'value', 'txt') });
  }
  for (const s of children(e, 'srv')) {
    const service = required(s, 'service', 'srv');
    if (service.length > 15) throw networkXmlError('srv', `service '${service}' is longer than 15 characters`);
    const protocol = oneOf(s, 'protocol', ['tcp', 'udp'] as const, 'srv');
    if (protocol === undefined) throw networkXmlError('srv', 'missing required attribute protocol');
    const srv: DnsDef['srvs'][number] = { service, protocol };
    const domain = attr(s, 'domain');
    if (domain !== undefined) srv.domain = domain;
    const target = attr(s, 'target');
    if (target !== undefined) srv.target = target;
    const port = uint(s, 'port', 'srv', 65535);
    const priority = uint(s, 'priority', 'srv', 65535);
    const weight = uint(s, 'weight', 'srv', 65535);
    if ((port !== undefined || priority !== undefined || weight !== undefined) && target === undefined) {
      throw networkXmlError('srv', 'port, priority and weight need a target');
    }
    if (port !== undefined) srv.port = port;
    if (priority !== undefined) srv.priority = priority;
    if (weight !== undefined) srv.weight = weight;
    dns.srvs.push(srv);
  }
  for (const h of children(e, 'host')) {
    const ip = ipAttr(h, 'ip', 'host', true) as string;
    const hostnames = children(h, 'hostname').map(textOf).filter((n) => n !== '');
    if (hostnames.length === 0) throw networkXmlError('host', `DNS host ${ip} has no <hostname>`);
    dns.hosts.push({ ip, hostnames });
  }
  if (dns.enable === false) {
    const extra = dns.forwarders.length + dns.txts.length + dns.srvs.length + dns.hosts.length;
    if (extra > 0 || dns.forwardPlainNames === true) {
      throw networkXmlError('dns', "DNS is disabled (enable='no') but it has forwarders, txt, srv or host records");
    }
  }
  return dns;
}

function parseLease(e: El): Lease | undefined {
  const l = child(e, 'lease');
  if (!l) return undefined;
  const expiry = uint(l, 'expiry', 'lease');
  if (expiry === undefined) throw networkXmlError('lease', 'missing required attribute expiry');
  const unit = oneOf(l, 'unit', ['seconds', 'minutes', 'hours'] as const, 'lease');
  return unit !== undefined ? { expiry, unit } : { expiry };
}

export function parseDhcp(e: El, ip: IpDef): DhcpDef {
  const v6 = isIPv6(ip.address);
  const prefix = ipPrefix(ip);
  const d: DhcpDef = { ranges: [], hosts: [] };
  for (const r of children(e, 'range')) {
    const start = ipAttr(r, 'start', 'range', true) as string;
    const end = ipAttr(r, 'end', 'range', true) as string;
    if (!inSubnet(start, ip.address, prefix) || !inSubnet(end, ip.address, prefix) ||
        ipToBigInt(start) > ipToBigInt(end)) {
      throw networkXmlError('range', `DHCP range ${start} - ${end} is not inside ${ip.address}/${prefix} or is reversed`);
    }
    const lease = parseLease(r);
    d.ranges.push(lease ? { start, end, lease } : { start, end });
  }
  for (const h of children(e, 'host')) {
    const host: DhcpDef['hosts'][number] = {};
    const mac = attr(h, 'mac');
    if (mac !== undefined) {
      if (v6) throw networkXmlError('host', `MAC address ${mac} is not allowed in an IPv6 static host, use id`);
      host.mac = parseMac(mac, 'host');
      if (isMulticastMac(host.mac)) throw networkXmlError('host', `multicast MAC address ${mac} in a static host`);
    }
    const id = attr(h, 'id');
    if (id !== undefined) host.id = id;
    const name = attr(h, 'name');
    if (name !== undefined) {
      if (!/^[A-Za-z]/.test(name)) throw networkXmlError('host', `host name '${name}' must start with a letter`);
      host.name = name;
    }
    if (!v6 && host.mac === undefined && host.name === undefined) {
      throw networkXmlError('host', 'an IPv4 static host needs mac or name');
    }
    if (v6 && host.id === undefined && host.name === undefined) {
      throw networkXmlError('host', 'an IPv6 static host needs id or name');
    }
    const hip = ipAttr(h, 'ip', 'host', false);
    if (hip !== undefined) {
      if (isIPv6(hip) !== v6) throw networkXmlError('host', `static host ip ${hip} is not of the family of ${ip.address}`);
      host.ip = hip;
    }
    const lease = parseLease(h);
    if (lease) host.lease = lease;
    d.hosts.push(host);
  }
  const bootp = children(e, 'bootp');
  if (bootp[0]) {
    if (v6) throw networkXmlError('bootp', `<bootp> is not supported on IPv6 address ${ip.address}`);
    const file = required(bootp[0], 'file', 'bootp');
    const server = ipAttr(bootp[0], 'server', 'bootp', false);
    d.bootp = server !== undefined ? { file, server } : { file };
  }
  return d;
}

export function writeDomain(o: XmlOut, parent: El, def: NetworkDef): void {
  if (def.domain) o.el(parent, 'domain', [['name', def.domain.name], ['localOnly', def.domain.localOnly], ['register', def.domain.register]]);
}

export function writeDns(o: XmlOut, parent: El, d: DnsDef): void {
  const e = o.el(parent, 'dns', [['enable', d.enable], ['forwardPlainNames', d.forwardPlainNames]]);
  for (const f of d.forwarders) o.el(e, 'forwarder', [['domain', f.domain], ['addr', f.addr]]);
  for (const t of d.txts) o.el(e, 'txt', [['name', t.name], ['value', t.value]]);
  for (const s of d.srvs) {
    o.el(e, 'srv', [['service', s.service], ['protocol', s.protocol], ['domain', s.domain], ['target', s.target],
      ['port', s.port], ['priority', s.priority], ['weight', s.weight]]);
  }
  for (const h of d.hosts) {
    const host = o.el(e, 'host', [['ip', h.ip]]);
    for (const n of h.hostnames) o.text(host, 'hostname', n);
  }
}

const writeLease = (o: XmlOut, parent: El, l: Lease | undefined) => {
  if (l) o.el(parent, 'lease', [['expiry', l.expiry], ['unit', l.unit]]);
};

export function writeDhcp(o: XmlOut, parent: El, d: DhcpDef): void {
  const e = o.el(parent, 'dhcp');
  for (const r of d.ranges) writeLease(o, o.el(e, 'range', [['start', r.start], ['end', r.end]]), r.lease);
  for (const h of d.hosts) writeLease(o, o.el(e, 'host', [['mac', h.mac], ['id', h.id], ['name', h.name], ['ip', h.ip]]), h.lease);
  if (d.bootp) o.el(e, 'bootp', [['file', d.bootp.file], ['server', d.bootp.server]]);
}
