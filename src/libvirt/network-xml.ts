/**
 * libvirt's network XML (https://libvirt.org/formatnetwork.html): a typed model, a parser that
 * enforces the rules libvirt's own parser (src/conf/network_conf.c) enforces, and a serializer
 * that writes what libvirt's formatter writes (its element order and its defaults).
 *
 * Pure: strings in, data out; errors are NetworkXmlError naming the element at fault.
 *
 * Example, the network hostnetd defines for a bridged VM network 'ovirtmgmt':
 *   <network>
 *     <name>vdsm-ovirtmgmt</name>
 *     <forward mode='bridge'/>
 *     <bridge name='ovirtmgmt' macTableManager='libvirt'/>
 *     <mtu size='9000'/>
 *     <port isolated='yes'/>
 *   </network>
 * parses to { name: 'vdsm-ovirtmgmt', forward: { mode: 'bridge', ... }, bridge: { name: 'ovirtmgmt',
 * macTableManager: 'libvirt' }, mtu: 9000, port: { isolated: true }, ips: [], ... }.
 *
 * Elements the model does not know (a newer libvirt's, or another namespace's such as
 * dnsmasq:options) are kept verbatim in `extra` and written back, so reading and rewriting a
 * network hostnetd did not write loses nothing.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { DOMParser, XMLSerializer, type Document, type Element } from '@xmldom/xmldom';

export type ForwardMode = 'nat' | 'route' | 'open' | 'bridge' | 'private' | 'vepa' | 'passthrough' | 'hostdev';
export const FORWARD_MODES: readonly ForwardMode[] = [
  'nat', 'route', 'open', 'bridge', 'private', 'vepa', 'passthrough', 'hostdev',
];

export interface PciAddress {
  domain: number;
  bus: number;
  slot: number;
  function: number;
}

export interface ForwardInterface {
  dev: string;
  connections?: number;
}

export interface NatDef {
  ipv6?: boolean;
  address?: { start: string; end: string };
  port?: { start: number; end: number };
}

export interface ForwardDef {
  mode: ForwardMode;
  managed?: boolean;
  trustGuestRxFilters?: boolean;
  driver?: { name?: string; model?: string };
  nat?: NatDef;
  pfs: ForwardInterface[];
  /** interfaces; `<forward dev='X'>` alone becomes interfaces[0] (libvirt does the same) */
  interfaces: ForwardInterface[];
  /** hostdev/passthrough PCI functions */
  addresses: PciAddress[];
  connections?: number;
}

export interface BridgeDef {
  name?: string;
  zone?: string;
  /** as written; libvirt's default for L3 modes is on */
  stp?: boolean;
  /** seconds, as written; libvirt's default for L3 modes is 0 */
  delay?: number;
  macTableManager?: 'kernel' | 'libvirt';
}

export interface DomainDef {
  name: string;
  localOnly?: boolean;
  register?: boolean;
}

export interface DnsDef {
  enable?: boolean;
  forwardPlainNames?: boolean;
  forwarders: { addr?: string; domain?: string }[];
  txts: { name: string; value: string }[];
  srvs: {
    service: string;
    protocol: string;
    domain?: string;
    target?: string;
    port?: number;
    priority?: number;
    weight?: number;
  }[];
  hosts: { ip: string; hostnames: string[] }[];
}

export interface Lease {
  /** 0 = infinite */
  expiry: number;
  unit?: 'seconds' | 'minutes' | 'hours';
}

export interface DhcpDef {
  ranges: { start: string; end: string; lease?: Lease }[];
  hosts: { mac?: string; id?: string; name?: string; ip?: string; lease?: Lease }[];
  bootp?: { file: string; server?: string };
}

export interface IpDef {
  address: string;
  family?: 'ipv4' | 'ipv6';
  netmask?: string;
  prefix?: number;
  localPtr?: boolean;
  tftp?: { root: string };
  dhcp?: DhcpDef;
}

export interface RouteDef {
  family?: 'ipv4' | 'ipv6';
  address: string;
  netmask?: string;
  prefix?: number;
  gateway: string;
  metric?: number;
}

export interface Rate {
  average?: number;
  peak?: number;
  burst?: number;
  floor?: number;
}

export interface BandwidthDef {
  inbound?: Rate;
  outbound?: Rate;
}

export interface VlanDef {
  trunk?: boolean;
  tags: { id: number; nativeMode?: 'tagged' | 'untagged' }[];
}

export interface VirtualPortDef {
  type?: '802.1Qbg' | '802.1Qbh' | 'openvswitch' | 'midonet';
  /** <parameters> attributes in document order (managerid, typeid, profileid, interfaceid, ...) */
  parameters?: [string, string][];
}

export interface PortGroupDef {
  name: string;
  default?: boolean;
  trustGuestRxFilters?: boolean;
  vlan?: VlanDef;
  virtualport?: VirtualPortDef;
  bandwidth?: BandwidthDef;
}

export interface NetworkDef {
  name: string;
  uuid?: string;
  title?: string;
  description?: string;
  /** inner XML of <metadata>, verbatim */
  metadata?: string;
  /** <network ipv6='yes'> */
  ipv6?: boolean;
  trustGuestRxFilters?: boolean;
  connections?: number;
  forward?: ForwardDef;
  bridge?: BridgeDef;
  mtu?: number;
  /** lower case */
  mac?: string;
  domain?: DomainDef;
  dns?: DnsDef;
  vlan?: VlanDef;
  bandwidth?: BandwidthDef;
  ips: IpDef[];
  routes: RouteDef[];
  virtualport?: VirtualPortDef;
  portgroups: PortGroupDef[];
  port?: { isolated: boolean };
  /** namespace declarations of the root element (prefix -> URI), e.g. dnsmasq */
  namespaces: [string, string][];
  /** elements the model does not know, verbatim, in document order */
  extra: string[];
}

/** A network XML libvirt would refuse, or that is not XML. `element` names the culprit. */
export class NetworkXmlError extends Error {
  constructor(
    readonly element: string,
    message: string,
  ) {
    super(`network XML: <${element}>: ${message}`);
    this.name = 'NetworkXmlError';
  }
}

// ---------------------------------------------------------------------------------------------
// DOM helpers

type El = Element;

const elements = (parent: El): El[] =>
  Array.from(parent.childNodes).filter((n): n is El => n.nodeType === 1);

const children = (parent: El, name: string): El[] =>
  elements(parent).filter((e) => e.namespaceURI === null && e.localName === name);

const child = (parent: El, name: string): El | undefined => children(parent, name)[0];

const attr = (e: El, name: string): string | undefined =>
  e.hasAttribute(name) ? (e.getAttribute(name) ?? undefined) : undefined;

const textOf = (e: El): string => (e.textContent ?? '').trim();

function yesNo(e: El, name: string, where: string): boolean | undefined {
  const v = attr(e, name);
  if (v === undefined) return undefined;
  if (v === 'yes') return true;
  if (v === 'no') return false;
  throw new NetworkXmlError(where, `attribute ${name}='${v}' must be 'yes' or 'no'`);
}

function onOff(e: El, name: string, where: string): boolean | undefined {
  const v = attr(e, name);
  if (v === undefined) return undefined;
  if (v === 'on' || v === 'yes') return true;
  if (v === 'off' || v === 'no') return false;
  throw new NetworkXmlError(where, `attribute ${name}='${v}' must be 'on' or 'off'`);
}

function uint(e: El, name: string, where: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = attr(e, name);
  if (v === undefined) return undefined;
  const n = /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > max) {
    throw new NetworkXmlError(where, `attribute ${name}='${v}' is not an integer in 0..${max}`);
  }
  return n;
}

function required(e: El, name: string, where: string): string {
  const v = attr(e, name);
  if (v === undefined || v === '') throw new NetworkXmlError(where, `missing required attribute ${name}`);
  return v;
}

function oneOf<T extends string>(e: El, name: string, allowed: readonly T[], where: string): T | undefined {
  const v = attr(e, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new NetworkXmlError(where, `attribute ${name}='${v}' must be one of ${allowed.join(', ')}`);
  }
  return v as T;
}

const isIp = (s: string) => isIPv4(s) || isIPv6(s);

function ipAttr(e: El, name: string, where: string, need: boolean): string | undefined {
  const v = need ? required(e, name, where) : attr(e, name);
  if (v !== undefined && !isIp(v)) throw new NetworkXmlError(where, `${name}='${v}' is not an IP address`);
  return v;
}

const MAC_RE = /^([0-9a-fA-F]{1,2}:){5}[0-9a-fA-F]{1,2}$/;

function parseMac(v: string, where: string): string {
  if (!MAC_RE.test(v)) throw new NetworkXmlError(where, `'${v}' is not a MAC address`);
  return v.split(':').map((b) => b.padStart(2, '0').toLowerCase()).join(':');
}

const isMulticastMac = (mac: string) => (parseInt(mac.slice(0, 2), 16) & 1) === 1;

// ---------------------------------------------------------------------------------------------
// address arithmetic for range checks

function ipToBigInt(ip: string): bigint {
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

function netmaskBits(mask: string): number | undefined {
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

function inSubnet(addr: string, net: string, prefix: number): boolean {
  const width = isIPv4(net) ? 32 : 128;
  if (isIPv4(addr) !== isIPv4(net)) return false;
  const shift = BigInt(width - prefix);
  return ipToBigInt(addr) >> shift === ipToBigInt(net) >> shift;
}

// ---------------------------------------------------------------------------------------------
// parsing

export function parseNetworkXml(xml: string): NetworkDef {
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, msg) => {
        if (level !== 'warning') throw new Error(msg);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (e) {
    throw new NetworkXmlError('network', `not well-formed XML: ${(e as Error).message}`);
  }
  const root = doc.documentElement as El | null;
  if (!root || root.localName !== 'network' || root.namespaceURI !== null) {
    throw new NetworkXmlError('network', `root element must be <network>, found <${root?.nodeName ?? 'nothing'}>`);
  }
  const def = parseRoot(root);
  validateNetwork(def);
  applyDefaults(def);
  return def;
}

const KNOWN = new Set([
  'name', 'uuid', 'title', 'description', 'metadata', 'forward', 'bridge', 'mtu', 'mac', 'domain',
  'dns', 'vlan', 'bandwidth', 'ip', 'route', 'virtualport', 'portgroup', 'port',
]);

function parseRoot(root: El): NetworkDef {
  const nameEl = child(root, 'name');
  const name = nameEl ? textOf(nameEl) : '';
  if (!name) throw new NetworkXmlError('name', 'missing network name');
  if (name.includes('/')) throw new NetworkXmlError('name', `network name '${name}' contains '/'`);

  const def: NetworkDef = { name, ips: [], routes: [], portgroups: [], namespaces: [], extra: [] };
  for (const a of Array.from(root.attributes)) {
    if (a.name.startsWith('xmlns:')) def.namespaces.push([a.name.slice(6), a.value]);
  }
  const ipv6 = yesNo(root, 'ipv6', 'network');
  if (ipv6) def.ipv6 = true;
  const trust = yesNo(root, 'trustGuestRxFilters', 'network');
  if (trust !== undefined) def.trustGuestRxFilters = trust;
  const conns = uint(root, 'connections', 'network');
  if (conns !== undefined) def.connections = conns;

  const uuidEl = child(root, 'uuid');
  if (uuidEl) {
    const u = textOf(uuidEl).toLowerCase();
    const compact = u.replace(/-/g, '');
    if (!/^[0-9a-f]{32}$/.test(compact)) throw new NetworkXmlError('uuid', `'${textOf(uuidEl)}' is not a UUID`);
    def.uuid = `${compact.slice(0, 8)}-${compact.slice(8, 12)}-${compact.slice(12, 16)}-${compact.slice(16, 20)}-${compact.slice(20)}`;
  }
  const title = child(root, 'title');
  if (title) {
    const t = title.textContent ?? '';
    if (t.includes('\n')) throw new NetworkXmlError('title', 'title must not contain a newline');
    def.title = t;
  }
  const desc = child(root, 'description');
  if (desc) def.description = desc.textContent ?? '';
  const meta = child(root, 'metadata');
  if (meta) {
    const ser = new XMLSerializer();
    def.metadata = elements(meta).map((e) => ser.serializeToString(e)).join('\n');
  }

  const fwd = child(root, 'forward');
  if (fwd) def.forward = parseForward(fwd);
  const br = child(root, 'bridge');
  if (br) def.bridge = parseBridge(br);
  const mtu = child(root, 'mtu');
  if (mtu) {
    const size = uint(mtu, 'size', 'mtu', 0xffffffff);
    if (size === undefined) throw new NetworkXmlError('mtu', 'missing required attribute size');
    def.mtu = size;
  }
  const mac = child(root, 'mac');
  if (mac) {
    def.mac = parseMac(required(mac, 'address', 'mac'), 'mac');
    if (isMulticastMac(def.mac)) throw new NetworkXmlError('mac', `multicast address '${def.mac}' is not allowed for a bridge`);
  }
  const dom = child(root, 'domain');
  if (dom) {
    def.domain = { name: required(dom, 'name', 'domain') };
    const lo = yesNo(dom, 'localOnly', 'domain');
    if (lo !== undefined) def.domain.localOnly = lo;
    const reg = yesNo(dom, 'register', 'domain');
    if (reg !== undefined) def.domain.register = reg;
  }
  const dns = child(root, 'dns');
  if (dns) def.dns = parseDns(dns);
  const vlan = child(root, 'vlan');
  if (vlan) def.vlan = parseVlan(vlan);
  const bw = child(root, 'bandwidth');
  if (bw) def.bandwidth = parseBandwidth(bw);
  def.ips = children(root, 'ip').map(parseIp);
  def.routes = children(root, 'route').map(parseRoute);
  const vp = child(root, 'virtualport');
  if (vp) def.virtualport = parseVirtualPort(vp);
  def.portgroups = children(root, 'portgroup').map(parsePortGroup);
  const port = child(root, 'port');
  if (port) {
    const iso = yesNo(port, 'isolated', 'port');
    if (iso !== undefined) def.port = { isolated: iso };
  }

  const ser = new XMLSerializer();
  const seen = new Map<string, number>();
  for (const e of elements(root)) {
    const local = e.localName ?? e.nodeName;
    const known = e.namespaceURI === null && KNOWN.has(local);
    const repeatable = local === 'ip' || local === 'route' || local === 'portgroup';
    if (known) {
      const n = (seen.get(local) ?? 0) + 1;
      seen.set(local, n);
      if (n > 1 && !repeatable) throw new NetworkXmlError(local, 'may appear only once');
      continue;
    }
    def.extra.push(ser.serializeToString(e));
  }
  return def;
}

function parsePci(e: El): PciAddress {
  const type = attr(e, 'type');
  if (type !== 'pci') throw new NetworkXmlError('address', `type='${type ?? ''}' is not supported in <forward>, only 'pci'`);
  return {
    domain: uint(e, 'domain', 'address', 0xffff) ?? 0,
    bus: uint(e, 'bus', 'address', 0xff) ?? 0,
    slot: uint(e, 'slot', 'address', 0x1f) ?? 0,
    function: uint(e, 'function', 'address', 7) ?? 0,
  };
}

const pciString = (a: PciAddress) =>
  `${a.domain.toString(16).padStart(4, '0')}:${a.bus.toString(16).padStart(2, '0')}:` +
  `${a.slot.toString(16).padStart(2, '0')}.${a.function.toString(16)}`;

function parseForward(e: El): ForwardDef {
  const mode = oneOf(e, 'mode', FORWARD_MODES, 'forward') ?? 'nat';
  const fwd: ForwardDef = { mode, pfs: [], interfaces: [], addresses: [] };
  const managed = yesNo(e, 'managed', 'forward');
  if (managed !== undefined) fwd.managed = managed;
  const trust = yesNo(e, 'trustGuestRxFilters', 'forward');
  if (trust !== undefined) fwd.trustGuestRxFilters = trust;
  const conns = uint(e, 'connections', 'forward');
  if (conns !== undefined) fwd.connections = conns;
  const drv = child(e, 'driver');
  if (drv) {
    fwd.driver = {};
    const n = oneOf(drv, 'name', ['kvm', 'vfio', 'xen'] as const, 'driver');
    if (n !== undefined) fwd.driver.name = n;
    const m = attr(drv, 'model');
    if (m !== undefined) fwd.driver.model = m;
  }
  const nats = children(e, 'nat');
  if (nats.length > 1) throw new NetworkXmlError('nat', 'only one <nat> is allowed in <forward>');
  if (nats[0]) {
    if (mode !== 'nat') throw new NetworkXmlError('nat', `<nat> is only allowed with forward mode='nat', not '${mode}'`);
    fwd.nat = parseNat(nats[0]);
  }
  const pfs = children(e, 'pf');
  if (pfs.length > 1) throw new NetworkXmlError('pf', 'only one <pf> is allowed in <forward>');
  fwd.pfs = pfs.map((p) => ({ dev: required(p, 'dev', 'pf') }));
  for (const i of children(e, 'interface')) {
    const dev = required(i, 'dev', 'interface');
    if (fwd.interfaces.some((x) => x.dev === dev)) {
      throw new NetworkXmlError('interface', `interface '${dev}' is listed more than once in <forward>`);
    }
    const fi: ForwardInterface = { dev };
    const c = uint(i, 'connections', 'interface');
    if (c !== undefined) fi.connections = c;
    fwd.interfaces.push(fi);
  }
  for (const a of children(e, 'address')) {
    const pci = parsePci(a);
    if (fwd.addresses.some((x) => pciString(x) === pciString(pci))) {
      throw new NetworkXmlError('address', `PCI device ${pciString(pci)} is listed more than once in <forward>`);
    }
    fwd.addresses.push(pci);
  }
  const kinds = [fwd.pfs.length, fwd.interfaces.length, fwd.addresses.length].filter((n) => n > 0).length;
  if (kinds > 1) throw new NetworkXmlError('forward', '<pf>, <interface> and <address> are mutually exclusive');

  const dev = attr(e, 'dev');
  if (dev !== undefined) {
    if (dev === '') throw new NetworkXmlError('forward', 'attribute dev is empty');
    if (mode === 'open') throw new NetworkXmlError('forward', "forward dev is not allowed with forward mode='open'");
    const first = fwd.interfaces[0];
    if (first && first.dev !== dev) {
      throw new NetworkXmlError('forward', `dev='${dev}' must match the first <interface dev='${first.dev}'>`);
    }
    if (fwd.addresses.length > 0) throw new NetworkXmlError('forward', 'dev is not allowed with PCI <address> elements');
    // libvirt turns a lone forward dev into the first (only) interface
    if (!first && fwd.pfs.length === 0) fwd.interfaces.push({ dev });
  }
  return fwd;
}

function parseNat(e: El): NatDef {
  const nat: NatDef = {};
  const v6 = yesNo(e, 'ipv6', 'nat');
  if (v6 !== undefined) nat.ipv6 = v6;
  const addrs = children(e, 'address');
  if (addrs.length > 1) throw new NetworkXmlError('nat', 'only one <address> is allowed in <nat>');
  if (addrs[0]) {
    const start = required(addrs[0], 'start', 'address');
    const end = attr(addrs[0], 'end') ?? start;
    if (!isIPv4(start) || !isIPv4(end)) throw new NetworkXmlError('address', `<nat> address range ${start}-${end} must be IPv4`);
    if (ipToBigInt(start) > ipToBigInt(end)) throw new NetworkXmlError('address', `<nat> address range ${start}-${end} is reversed`);
    nat.address = { start, end };
  }
  const ports = children(e, 'port');
  if (ports.length > 1) throw new NetworkXmlError('nat', 'only one <port> is allowed in <nat>');
  if (ports[0]) {
    const start = uint(ports[0], 'start', 'port', 65535);
    const end = uint(ports[0], 'end', 'port', 65535);
    if (start === undefined || end === undefined) throw new NetworkXmlError('port', '<nat> port needs start and end');
    if (start > end) throw new NetworkXmlError('port', `<nat> port range ${start}-${end} is reversed`);
    nat.port = { start, end };
  }
  return nat;
}

function parseBridge(e: El): BridgeDef {
  const b: BridgeDef = {};
  const name = attr(e, 'name');
  if (name !== undefined) b.name = name;
  const zone = attr(e, 'zone');
  if (zone !== undefined) b.zone = zone;
  const stp = onOff(e, 'stp', 'bridge');
  if (stp !== undefined) b.stp = stp;
  const delay = uint(e, 'delay', 'bridge');
  if (delay !== undefined) b.delay = delay;
  const mtm = oneOf(e, 'macTableManager', ['kernel', 'libvirt'] as const, 'bridge');
  if (mtm !== undefined) b.macTableManager = mtm;
  return b;
}

function parseDns(e: El): DnsDef {
  const dns: DnsDef = { forwarders: [], txts: [], srvs: [], hosts: [] };
  const enable = yesNo(e, 'enable', 'dns');
  if (enable !== undefined) dns.enable = enable;
  const fpn = yesNo(e, 'forwardPlainNames', 'dns');
  if (fpn !== undefined) dns.forwardPlainNames = fpn;
  for (const f of children(e, 'forwarder')) {
    const addr = ipAttr(f, 'addr', 'forwarder', false);
    const domain = attr(f, 'domain');
    if (addr === undefined && domain === undefined) {
      throw new NetworkXmlError('forwarder', 'needs at least one of addr or domain');
    }
    dns.forwarders.push({ ...(addr !== undefined ? { addr } : {}), ...(domain !== undefined ? { domain } : {}) });
  }
  for (const t of children(e, 'txt')) {
    const name = required(t, 'name', 'txt');
    if (name.startsWith('.') || /\s/.test(name)) throw new NetworkXmlError('txt', `record name '${name}' is not valid`);
    dns.txts.push({ name, value: required(t, 'value', 'txt') });
  }
  for (const s of children(e, 'srv')) {
    const service = required(s, 'service', 'srv');
    if (service.length > 15) throw new NetworkXmlError('srv', `service '${service}' is longer than 15 characters`);
    const protocol = oneOf(s, 'protocol', ['tcp', 'udp'] as const, 'srv');
    if (protocol === undefined) throw new NetworkXmlError('srv', 'missing required attribute protocol');
    const srv: DnsDef['srvs'][number] = { service, protocol };
    const domain = attr(s, 'domain');
    if (domain !== undefined) srv.domain = domain;
    const target = attr(s, 'target');
    if (target !== undefined) srv.target = target;
    const port = uint(s, 'port', 'srv', 65535);
    const priority = uint(s, 'priority', 'srv', 65535);
    const weight = uint(s, 'weight', 'srv', 65535);
    if ((port !== undefined || priority !== undefined || weight !== undefined) && target === undefined) {
      throw new NetworkXmlError('srv', 'port, priority and weight need a target');
    }
    if (port !== undefined) srv.port = port;
    if (priority !== undefined) srv.priority = priority;
    if (weight !== undefined) srv.weight = weight;
    dns.srvs.push(srv);
  }
  for (const h of children(e, 'host')) {
    const ip = ipAttr(h, 'ip', 'host', true) as string;
    const hostnames = children(h, 'hostname').map(textOf).filter((n) => n !== '');
    if (hostnames.length === 0) throw new NetworkXmlError('host', `DNS host ${ip} has no <hostname>`);
    dns.hosts.push({ ip, hostnames });
  }
  if (dns.enable === false) {
    const extra = dns.forwarders.length + dns.txts.length + dns.srvs.length + dns.hosts.length;
    if (extra > 0 || dns.forwardPlainNames === true) {
      throw new NetworkXmlError('dns', "DNS is disabled (enable='no') but it has forwarders, txt, srv or host records");
    }
  }
  return dns;
}

function parseVlan(e: El): VlanDef {
  const v: VlanDef = { tags: [] };
  const trunk = yesNo(e, 'trunk', 'vlan');
  if (trunk !== undefined) v.trunk = trunk;
  for (const t of children(e, 'tag')) {
    const id = uint(t, 'id', 'tag', 4095);
    if (id === undefined) throw new NetworkXmlError('tag', 'missing required attribute id');
    const nm = oneOf(t, 'nativeMode', ['tagged', 'untagged'] as const, 'tag');
    v.tags.push(nm !== undefined ? { id, nativeMode: nm } : { id });
  }
  if (v.tags.length === 0) throw new NetworkXmlError('vlan', 'needs at least one <tag>');
  if (v.trunk === false && v.tags.length > 1) throw new NetworkXmlError('vlan', "trunk='no' allows only one <tag>");
  if (v.tags.filter((t) => t.nativeMode).length > 1) throw new NetworkXmlError('vlan', 'only one <tag> may set nativeMode');
  return v;
}

function parseRate(e: El, where: string): Rate {
  const r: Rate = {};
  for (const k of ['average', 'peak', 'burst', 'floor'] as const) {
    const v = uint(e, k, where);
    if (v !== undefined) r[k] = v;
  }
  return r;
}

function parseBandwidth(e: El): BandwidthDef {
  const bw: BandwidthDef = {};
  const ins = children(e, 'inbound');
  const outs = children(e, 'outbound');
  if (ins.length > 1 || outs.length > 1) throw new NetworkXmlError('bandwidth', 'only one <inbound> and one <outbound> allowed');
  if (ins[0]) {
    bw.inbound = parseRate(ins[0], 'inbound');
    if (bw.inbound.average === undefined && bw.inbound.floor === undefined) {
      throw new NetworkXmlError('inbound', 'needs average or floor');
    }
  }
  if (outs[0]) {
    bw.outbound = parseRate(outs[0], 'outbound');
    if (bw.outbound.average === undefined) throw new NetworkXmlError('outbound', 'missing required attribute average');
    if (bw.outbound.floor !== undefined) throw new NetworkXmlError('outbound', 'floor is only supported on <inbound>');
  }
  return bw;
}

function parseLease(e: El): Lease | undefined {
  const l = child(e, 'lease');
  if (!l) return undefined;
  const expiry = uint(l, 'expiry', 'lease');
  if (expiry === undefined) throw new NetworkXmlError('lease', 'missing required attribute expiry');
  const unit = oneOf(l, 'unit', ['seconds', 'minutes', 'hours'] as const, 'lease');
  return unit !== undefined ? { expiry, unit } : { expiry };
}

function parseIp(e: El): IpDef {
  const address = ipAttr(e, 'address', 'ip', true) as string;
  const ip: IpDef = { address };
  const family = oneOf(e, 'family', ['ipv4', 'ipv6'] as const, 'ip');
  if (family !== undefined) {
    if ((family === 'ipv4') !== isIPv4(address)) {
      throw new NetworkXmlError('ip', `family='${family}' does not match address ${address}`);
    }
    ip.family = family;
  }
  const v6 = isIPv6(address);
  const netmask = attr(e, 'netmask');
  const prefix = uint(e, 'prefix', 'ip', v6 ? 128 : 32);
  if (netmask !== undefined && prefix !== undefined) {
    throw new NetworkXmlError('ip', `address ${address} has both a netmask and a prefix`);
  }
  if (netmask !== undefined) {
    if (v6) throw new NetworkXmlError('ip', `netmask is not supported for IPv6 address ${address}, use prefix`);
    if (!isIPv4(netmask) || netmaskBits(netmask) === undefined) {
      throw new NetworkXmlError('ip', `netmask '${netmask}' is not a valid IPv4 netmask`);
    }
    ip.netmask = netmask;
  }
  if (prefix !== undefined) ip.prefix = prefix;
  const lp = yesNo(e, 'localPtr', 'ip');
  if (lp !== undefined) ip.localPtr = lp;
  const tftp = child(e, 'tftp');
  if (tftp) {
    if (v6) throw new NetworkXmlError('tftp', `<tftp> is not supported on IPv6 address ${address}`);
    ip.tftp = { root: required(tftp, 'root', 'tftp') };
  }
  const dhcp = child(e, 'dhcp');
  if (dhcp) ip.dhcp = parseDhcp(dhcp, ip);
  return ip;
}

function parseDhcp(e: El, ip: IpDef): DhcpDef {
  const v6 = isIPv6(ip.address);
  const prefix = ipPrefix(ip);
  const d: DhcpDef = { ranges: [], hosts: [] };
  for (const r of children(e, 'range')) {
    const start = ipAttr(r, 'start', 'range', true) as string;
    const end = ipAttr(r, 'end', 'range', true) as string;
    if (!inSubnet(start, ip.address, prefix) || !inSubnet(end, ip.address, prefix) ||
        ipToBigInt(start) > ipToBigInt(end)) {
      throw new NetworkXmlError('range', `DHCP range ${start} - ${end} is not inside ${ip.address}/${prefix} or is reversed`);
    }
    const lease = parseLease(r);
    d.ranges.push(lease ? { start, end, lease } : { start, end });
  }
  for (const h of children(e, 'host')) {
    const host: DhcpDef['hosts'][number] = {};
    const mac = attr(h, 'mac');
    if (mac !== undefined) {
      if (v6) throw new NetworkXmlError('host', `MAC address ${mac} is not allowed in an IPv6 static host, use id`);
      host.mac = parseMac(mac, 'host');
      if (isMulticastMac(host.mac)) throw new NetworkXmlError('host', `multicast MAC address ${mac} in a static host`);
    }
    const id = attr(h, 'id');
    if (id !== undefined) host.id = id;
    const name = attr(h, 'name');
    if (name !== undefined) {
      if (!/^[A-Za-z]/.test(name)) throw new NetworkXmlError('host', `host name '${name}' must start with a letter`);
      host.name = name;
    }
    if (!v6 && host.mac === undefined && host.name === undefined) {
      throw new NetworkXmlError('host', 'an IPv4 static host needs mac or name');
    }
    if (v6 && host.id === undefined && host.name === undefined) {
      throw new NetworkXmlError('host', 'an IPv6 static host needs id or name');
    }
    const hip = ipAttr(h, 'ip', 'host', false);
    if (hip !== undefined) {
      if (isIPv6(hip) !== v6) throw new NetworkXmlError('host', `static host ip ${hip} is not of the family of ${ip.address}`);
      host.ip = hip;
    }
    const lease = parseLease(h);
    if (lease) host.lease = lease;
    d.hosts.push(host);
  }
  const bootp = children(e, 'bootp');
  if (bootp[0]) {
    if (v6) throw new NetworkXmlError('bootp', `<bootp> is not supported on IPv6 address ${ip.address}`);
    const file = required(bootp[0], 'file', 'bootp');
    const server = ipAttr(bootp[0], 'server', 'bootp', false);
    d.bootp = server !== undefined ? { file, server } : { file };
  }
  return d;
}

function parseRoute(e: El): RouteDef {
  const address = ipAttr(e, 'address', 'route', true) as string;
  const gateway = ipAttr(e, 'gateway', 'route', true) as string;
  if (isIPv4(address) !== isIPv4(gateway)) {
    throw new NetworkXmlError('route', `gateway ${gateway} and address ${address} are of different families`);
  }
  const r: RouteDef = { address, gateway };
  const family = oneOf(e, 'family', ['ipv4', 'ipv6'] as const, 'route');
  if (family !== undefined) {
    if ((family === 'ipv4') !== isIPv4(address)) {
      throw new NetworkXmlError('route', `family='${family}' does not match address ${address}`);
    }
    r.family = family;
  }
  const netmask = attr(e, 'netmask');
  const prefix = uint(e, 'prefix', 'route', isIPv4(address) ? 32 : 128);
  if (netmask !== undefined && prefix !== undefined) {
    throw new NetworkXmlError('route', `route ${address} has both a netmask and a prefix`);
  }
  if (netmask !== undefined) {
    if (!isIPv4(address) || !isIPv4(netmask) || netmaskBits(netmask) === undefined) {
      throw new NetworkXmlError('route', `netmask '${netmask}' is not valid for route ${address}`);
    }
    r.netmask = netmask;
  }
  if (prefix !== undefined) r.prefix = prefix;
  const metric = uint(e, 'metric', 'route');
  if (metric !== undefined) {
    if (metric === 0) throw new NetworkXmlError('route', 'metric must be greater than 0');
    r.metric = metric;
  }
  return r;
}

const VPORT_TYPES = ['802.1Qbg', '802.1Qbh', 'openvswitch', 'midonet'] as const;

function parseVirtualPort(e: El): VirtualPortDef {
  const vp: VirtualPortDef = {};
  const type = oneOf(e, 'type', VPORT_TYPES, 'virtualport');
  if (type !== undefined) vp.type = type;
  const p = child(e, 'parameters');
  if (p) vp.parameters = Array.from(p.attributes).map((a) => [a.name, a.value] as [string, string]);
  return vp;
}

function parsePortGroup(e: El): PortGroupDef {
  const pg: PortGroupDef = { name: required(e, 'name', 'portgroup') };
  const def = yesNo(e, 'default', 'portgroup');
  if (def !== undefined) pg.default = def;
  const trust = yesNo(e, 'trustGuestRxFilters', 'portgroup');
  if (trust !== undefined) pg.trustGuestRxFilters = trust;
  const vlan = child(e, 'vlan');
  if (vlan) pg.vlan = parseVlan(vlan);
  const vp = child(e, 'virtualport');
  if (vp) pg.virtualport = parseVirtualPort(vp);
  const bw = child(e, 'bandwidth');
  if (bw) pg.bandwidth = parseBandwidth(bw);
  if (child(e, 'port')) throw new NetworkXmlError('portgroup', `<port> is not allowed in <portgroup name='${pg.name}'>`);
  return pg;
}

/**
 * libvirt's parse-time defaults, so a parsed model equals what libvirt would hold: a network
 * whose bridge libvirt creates (isolated, nat, route, open) has stp on and delay 0 unless set.
 */
function applyDefaults(def: NetworkDef): void {
  if (L3_MODES.includes(forwardModeOf(def))) {
    const b = (def.bridge ??= {});
    b.stp ??= true;
    b.delay ??= 0;
  }
}

// ---------------------------------------------------------------------------------------------
// cross-element rules (virNetworkDefParseXML's checks after the parts are read)

const L3_MODES: readonly (ForwardMode | 'none')[] = ['none', 'nat', 'route', 'open'];
const NO_BANDWIDTH: readonly ForwardMode[] = ['bridge', 'private', 'vepa', 'passthrough', 'hostdev'];

/** forward mode as libvirt sees it: no <forward> is an isolated ('none') network. */
export const forwardModeOf = (def: NetworkDef): ForwardMode | 'none' => def.forward?.mode ?? 'none';

export function validateNetwork(def: NetworkDef): void {
  const mode = forwardModeOf(def);
  const fwd = def.forward;
  const where = `network '${def.name}'`;
  const stpDelay = def.bridge?.stp !== undefined || def.bridge?.delay !== undefined;

  if (mode === 'nat' || mode === 'route' || mode === 'open') {
    if (def.ips.length === 0) throw new NetworkXmlError('forward', `${where}: mode='${mode}' needs an <ip> address`);
    if ((fwd?.interfaces.length ?? 0) > 1) {
      throw new NetworkXmlError('forward', `${where}: mode='${mode}' supports only one forward interface`);
    }
  }
  if (mode === 'bridge' || mode === 'private' || mode === 'vepa' || mode === 'passthrough' || mode === 'hostdev') {
    if (stpDelay) {
      throw new NetworkXmlError('bridge', `${where}: stp and delay are only allowed in route, nat, open and isolated mode, not '${mode}'`);
    }
    const devs = (fwd?.interfaces.length ?? 0) + (fwd?.pfs.length ?? 0);
    if (def.bridge?.name !== undefined && devs > 0) {
      throw new NetworkXmlError('bridge', `${where}: mode='${mode}' takes a bridge name or a forward dev, not both`);
    }
    if (mode !== 'bridge') {
      if (def.bridge?.name !== undefined) throw new NetworkXmlError('bridge', `${where}: a bridge name is not allowed in mode='${mode}'`);
      if (def.bridge?.zone !== undefined) throw new NetworkXmlError('bridge', `${where}: a firewalld zone is not allowed in mode='${mode}'`);
      if (def.bridge?.macTableManager !== undefined) {
        throw new NetworkXmlError('bridge', `${where}: macTableManager is not allowed in mode='${mode}'`);
      }
    }
  }
  if (def.mtu !== undefined && !L3_MODES.includes(mode)) {
    // libvirt (9.0 and 11.x) refuses it: the MTU of a bridge libvirt does not create is the host's business
    throw new NetworkXmlError('mtu', `${where}: <mtu> is only allowed in open, route, nat and isolated mode, not '${mode}'`);
  }
  if (NO_BANDWIDTH.includes(mode as ForwardMode)) {
    if (def.bandwidth) throw new NetworkXmlError('bandwidth', `${where}: network-wide <bandwidth> is not supported with forward mode='${mode}'`);
    const pg = def.portgroups.find((p) => p.bandwidth);
    if (pg) throw new NetworkXmlError('bandwidth', `${where}: <bandwidth> in <portgroup name='${pg.name}'> is not supported with forward mode='${mode}'`);
  }
  if (fwd?.managed !== undefined && mode !== 'hostdev') {
    throw new NetworkXmlError('forward', `${where}: managed is only allowed with mode='hostdev'`);
  }
  if (fwd && fwd.addresses.length > 0 && mode !== 'hostdev' && mode !== 'passthrough') {
    throw new NetworkXmlError('address', `${where}: PCI <address> is only allowed with mode='hostdev' or 'passthrough'`);
  }
  if (!L3_MODES.includes(mode)) {
    if (def.dns && (def.dns.hosts.length || def.dns.txts.length || def.dns.srvs.length || def.dns.forwarders.length)) {
      throw new NetworkXmlError('dns', `${where}: DNS records are only allowed in route, nat, open and isolated mode`);
    }
    if (def.domain) throw new NetworkXmlError('domain', `${where}: <domain> is only allowed in route, nat, open and isolated mode`);
  }
  const v4dhcp = def.ips.filter((i) => i.dhcp && isIPv4(i.address));
  const v6dhcp = def.ips.filter((i) => i.dhcp && isIPv6(i.address));
  if (v4dhcp.length > 1) throw new NetworkXmlError('dhcp', `${where}: <dhcp> is supported on only one IPv4 address`);
  if (v6dhcp.length > 1) throw new NetworkXmlError('dhcp', `${where}: <dhcp> is supported on only one IPv6 address`);
  if (def.ips.filter((i) => i.tftp).length > 1) throw new NetworkXmlError('tftp', `${where}: <tftp> is supported on only one IPv4 address`);

  const names = new Set<string>();
  let dflt: string | undefined;
  for (const pg of def.portgroups) {
    if (names.has(pg.name)) throw new NetworkXmlError('portgroup', `${where}: two portgroups are named '${pg.name}'`);
    names.add(pg.name);
    if (pg.default) {
      if (dflt !== undefined) {
        throw new NetworkXmlError('portgroup', `${where}: portgroups '${dflt}' and '${pg.name}' are both default; only one may be`);
      }
      dflt = pg.name;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// serializing: libvirt's element order and defaults (virNetworkDefFormatBuf)

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

type Attrs = [string, string | number | boolean | undefined][];

function attrs(list: Attrs, bool: (v: boolean) => string = (v) => (v ? 'yes' : 'no')): string {
  return list
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}='${esc(typeof v === 'boolean' ? bool(v) : String(v))}'`)
    .join('');
}

class Out {
  private lines: string[] = [];
  constructor(private depth = 0) {}
  line(s: string) {
    this.lines.push('  '.repeat(this.depth) + s);
  }
  open(s: string) {
    this.line(s);
    this.depth++;
  }
  close(s: string) {
    this.depth--;
    this.line(s);
  }
  /** verbatim XML: indent its first line only, so its own text content is kept byte for byte */
  raw(block: string) {
    this.line(block);
  }
  toString() {
    return this.lines.join('\n') + '\n';
  }
}

const hex = (n: number, w: number) => `0x${n.toString(16).padStart(w, '0')}`;

function writeVlan(o: Out, v: VlanDef) {
  o.open(`<vlan${attrs([['trunk', v.trunk]])}>`);
  for (const t of v.tags) o.line(`<tag${attrs([['id', t.id], ['nativeMode', t.nativeMode]])}/>`);
  o.close('</vlan>');
}

function writeBandwidth(o: Out, b: BandwidthDef) {
  o.open('<bandwidth>');
  const rate = (r: Rate) => attrs([['average', r.average], ['peak', r.peak], ['floor', r.floor], ['burst', r.burst]]);
  if (b.inbound) o.line(`<inbound${rate(b.inbound)}/>`);
  if (b.outbound) o.line(`<outbound${rate(b.outbound)}/>`);
  o.close('</bandwidth>');
}

function writeVirtualPort(o: Out, vp: VirtualPortDef) {
  const head = `<virtualport${attrs([['type', vp.type]])}`;
  if (!vp.parameters || vp.parameters.length === 0) {
    o.line(`${head}/>`);
    return;
  }
  o.open(`${head}>`);
  o.line(`<parameters${attrs(vp.parameters)}/>`);
  o.close('</virtualport>');
}

const leaseLine = (l: Lease) => `<lease${attrs([['expiry', l.expiry], ['unit', l.unit]])}/>`;

function writeForward(o: Out, f: ForwardDef) {
  // libvirt prints the first netdev interface as dev= unless there is a <pf>
  const dev = f.pfs.length === 0 ? f.interfaces[0]?.dev : undefined;
  const head = `<forward${attrs([['dev', dev], ['mode', f.mode], ['managed', f.managed], ['trustGuestRxFilters', f.trustGuestRxFilters]])}`;
  const empty = !f.driver && !f.nat && f.pfs.length + f.interfaces.length + f.addresses.length === 0;
  if (empty) {
    o.line(`${head}/>`);
    return;
  }
  o.open(`${head}>`);
  if (f.driver) o.line(`<driver${attrs([['name', f.driver.name], ['model', f.driver.model]])}/>`);
  if (f.nat) {
    const n = f.nat;
    const natHead = `<nat${attrs([['ipv6', n.ipv6]])}`;
    if (!n.address && !n.port) o.line(`${natHead}/>`);
    else {
      o.open(`${natHead}>`);
      if (n.address) o.line(`<address${attrs([['start', n.address.start], ['end', n.address.end]])}/>`);
      if (n.port) o.line(`<port${attrs([['start', n.port.start], ['end', n.port.end]])}/>`);
      o.close('</nat>');
    }
  }
  for (const p of f.pfs) o.line(`<pf${attrs([['dev', p.dev]])}/>`);
  for (const i of f.interfaces) o.line(`<interface${attrs([['dev', i.dev], ['connections', i.connections]])}/>`);
  for (const a of f.addresses) {
    o.line(`<address type='pci' domain='${hex(a.domain, 4)}' bus='${hex(a.bus, 2)}' slot='${hex(a.slot, 2)}' function='${hex(a.function, 1)}'/>`);
  }
  o.close('</forward>');
}

function writeDns(o: Out, d: DnsDef) {
  const head = `<dns${attrs([['enable', d.enable], ['forwardPlainNames', d.forwardPlainNames]])}`;
  if (d.forwarders.length + d.txts.length + d.srvs.length + d.hosts.length === 0) {
    o.line(`${head}/>`);
    return;
  }
  o.open(`${head}>`);
  for (const f of d.forwarders) o.line(`<forwarder${attrs([['domain', f.domain], ['addr', f.addr]])}/>`);
  for (const t of d.txts) o.line(`<txt${attrs([['name', t.name], ['value', t.value]])}/>`);
  for (const s of d.srvs) {
    o.line(`<srv${attrs([['service', s.service], ['protocol', s.protocol], ['domain', s.domain], ['target', s.target],
      ['port', s.port], ['priority', s.priority], ['weight', s.weight]])}/>`);
  }
  for (const h of d.hosts) {
    o.open(`<host${attrs([['ip', h.ip]])}>`);
    for (const n of h.hostnames) o.line(`<hostname>${esc(n)}</hostname>`);
    o.close('</host>');
  }
  o.close('</dns>');
}

function writeIp(o: Out, ip: IpDef) {
  o.open(`<ip${attrs([['family', ip.family], ['address', ip.address], ['netmask', ip.netmask], ['prefix', ip.prefix], ['localPtr', ip.localPtr]])}>`);
  if (ip.tftp) o.line(`<tftp${attrs([['root', ip.tftp.root]])}/>`);
  if (ip.dhcp) {
    o.open('<dhcp>');
    for (const r of ip.dhcp.ranges) {
      const head = `<range${attrs([['start', r.start], ['end', r.end]])}`;
      if (!r.lease) o.line(`${head}/>`);
      else {
        o.open(`${head}>`);
        o.line(leaseLine(r.lease));
        o.close('</range>');
      }
    }
    for (const h of ip.dhcp.hosts) {
      const head = `<host${attrs([['mac', h.mac], ['id', h.id], ['name', h.name], ['ip', h.ip]])}`;
      if (!h.lease) o.line(`${head}/>`);
      else {
        o.open(`${head}>`);
        o.line(leaseLine(h.lease));
        o.close('</host>');
      }
    }
    if (ip.dhcp.bootp) o.line(`<bootp${attrs([['file', ip.dhcp.bootp.file], ['server', ip.dhcp.bootp.server]])}/>`);
    o.close('</dhcp>');
  }
  o.close('</ip>');
}

export function serializeNetworkXml(def: NetworkDef): string {
  validateNetwork(def);
  const o = new Out();
  const ns = def.namespaces.map(([p, uri]) => ` xmlns:${p}='${esc(uri)}'`).join('');
  o.open(`<network${ns}${attrs([['connections', def.connections], ['ipv6', def.ipv6 ? true : undefined], ['trustGuestRxFilters', def.trustGuestRxFilters]])}>`);
  o.line(`<name>${esc(def.name)}</name>`);
  if (def.uuid) o.line(`<uuid>${def.uuid}</uuid>`);
  if (def.title !== undefined) o.line(`<title>${esc(def.title)}</title>`);
  if (def.description !== undefined) o.line(`<description>${esc(def.description)}</description>`);
  if (def.metadata !== undefined) {
    o.open('<metadata>');
    if (def.metadata) o.raw(def.metadata);
    o.close('</metadata>');
  }
  if (def.forward) writeForward(o, def.forward);
  const mode = forwardModeOf(def);
  const l3 = L3_MODES.includes(mode);
  if (l3 || def.bridge?.name !== undefined || def.bridge?.macTableManager !== undefined) {
    const b = def.bridge ?? {};
    // for networks whose bridge libvirt creates, it always prints stp and delay (defaults on, 0)
    o.line(`<bridge${attrs([['name', b.name], ['zone', b.zone],
      ['stp', l3 ? (b.stp ?? true) : undefined], ['delay', l3 ? (b.delay ?? 0) : undefined],
      ['macTableManager', b.macTableManager]], (v) => (v ? 'on' : 'off'))}/>`);
  }
  if (def.mtu !== undefined) o.line(`<mtu size='${def.mtu}'/>`);
  if (def.mac) o.line(`<mac address='${def.mac}'/>`);
  if (def.domain) o.line(`<domain${attrs([['name', def.domain.name], ['localOnly', def.domain.localOnly], ['register', def.domain.register]])}/>`);
  if (def.dns) writeDns(o, def.dns);
  if (def.vlan) writeVlan(o, def.vlan);
  if (def.bandwidth) writeBandwidth(o, def.bandwidth);
  for (const ip of def.ips) writeIp(o, ip);
  for (const r of def.routes) {
    o.line(`<route${attrs([['family', r.family], ['address', r.address], ['netmask', r.netmask], ['prefix', r.prefix], ['gateway', r.gateway], ['metric', r.metric]])}/>`);
  }
  if (def.virtualport) writeVirtualPort(o, def.virtualport);
  for (const pg of def.portgroups) {
    const head = `<portgroup${attrs([['name', pg.name], ['default', pg.default], ['trustGuestRxFilters', pg.trustGuestRxFilters]])}`;
    if (!pg.vlan && !pg.virtualport && !pg.bandwidth) o.line(`${head}/>`);
    else {
      o.open(`${head}>`);
      if (pg.vlan) writeVlan(o, pg.vlan);
      if (pg.virtualport) writeVirtualPort(o, pg.virtualport);
      if (pg.bandwidth) writeBandwidth(o, pg.bandwidth);
      o.close('</portgroup>');
    }
  }
  if (def.port) o.line(`<port isolated='${def.port.isolated ? 'yes' : 'no'}'/>`);
  for (const x of def.extra) o.raw(x);
  o.close('</network>');
  return o.toString();
}
