/**
 * libvirt's network XML (https://libvirt.org/formatnetwork.html): a typed model, a parser that
 * enforces the rules libvirt's own parser (src/conf/network_conf.c) enforces, and a serializer
 * that writes what libvirt's formatter writes (its element order and its defaults), through
 * xmldom. One module per section of formatnetwork, under network-xml/: forward.ts (forward
 * modes, NAT, device pools), bridge.ts (bridge, MTU, MAC, port isolation), addressing.ts (ip,
 * routes), dns-dhcp.ts (domain, DNS, DHCP), qos.ts (bandwidth, VLAN tags), portgroups.ts
 * (port groups, virtual ports), rules.ts (rules across elements, defaults); this file reads
 * and writes the <network> element and its general metadata.
 *
 * Pure: strings in, data out; errors are networkXmlError()s naming the element at fault.
 *
 * Example, the network hostnetd defines for a bridged VM network 'ovirtmgmt':
 *   <network>
 *     <name>vdsm-ovirtmgmt</name>
 *     <forward mode='bridge'/>
 *     <bridge name='ovirtmgmt' macTableManager='libvirt'/>
 *     <port isolated='yes'/>
 *   </network>
 * parses to { name: 'vdsm-ovirtmgmt', forward: { mode: 'bridge', ... }, bridge: { name: 'ovirtmgmt',
 * macTableManager: 'libvirt' }, port: { isolated: true }, ips: [], ... }. (No <mtu>: libvirt
 * allows it only where it creates the bridge itself: open, route, nat and isolated networks.)
 *
 * Elements the model does not know (a newer libvirt's, or another namespace's such as
 * dnsmasq:options) are kept verbatim in `extra` and written back, so reading and rewriting a
 * network hostnetd did not write loses nothing.
 */
import { DOMParser, XMLSerializer, type Document } from '@xmldom/xmldom';
import { parseIp, parseRoute, writeIp, writeRoute } from './network-xml/addressing.js';
import { parseBridge, parseLinkParts, writeBridge, writePort } from './network-xml/bridge.js';
import { parseDns, parseDomain, writeDns, writeDomain } from './network-xml/dns-dhcp.js';
import { child, children, elements, textOf, uint, yesNo, XmlOut, type El } from './network-xml/dom.js';
import { parseForward, writeForward } from './network-xml/forward.js';
import { networkXmlError, type NetworkDef } from './network-xml/model.js';
import { parsePortGroup, parseVirtualPort, writePortGroup, writeVirtualPort } from './network-xml/portgroups.js';
import { parseBandwidth, parseVlan, writeBandwidth, writeVlan } from './network-xml/qos.js';
import { applyDefaults, validateNetwork } from './network-xml/rules.js';

export * from './network-xml/model.js';
export { child, readNetworkRoot } from './network-xml/dom.js';
export { ipPrefix } from './network-xml/addressing.js';
export { forwardModeOf, validateNetwork } from './network-xml/rules.js';

export function parseNetworkXml(xml: string): NetworkDef {
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, msg) => {
        if (level !== 'warning') throw new Error(msg);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (e) {
    throw networkXmlError('network', `not well-formed XML: ${(e as Error).message}`);
  }
  const root = doc.documentElement as El | null;
  if (!root || root.localName !== 'network' || root.namespaceURI !== null) {
    throw networkXmlError('network', `root element must be <network>, found <${root?.nodeName ?? 'nothing'}>`);
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
  const def = parseGeneral(root);
  const fwd = child(root, 'forward');
  if (fwd) def.forward = parseForward(fwd);
  const br = child(root, 'bridge');
  if (br) def.bridge = parseBridge(br);
  parseLinkParts(root, def);
  parseDomain(root, def);
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
  def.extra = unknownElements(root);
  return def;
}

/** formatnetwork "General metadata": name, uuid, title, description, metadata, root attributes */
function parseGeneral(root: El): NetworkDef {
  const nameEl = child(root, 'name');
  const name = nameEl ? textOf(nameEl) : '';
  if (!name) throw networkXmlError('name', 'missing network name');
  if (name.includes('/')) throw networkXmlError('name', `network name '${name}' contains '/'`);

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
    if (!/^[0-9a-f]{32}$/.test(compact)) throw networkXmlError('uuid', `'${textOf(uuidEl)}' is not a UUID`);
    def.uuid = `${compact.slice(0, 8)}-${compact.slice(8, 12)}-${compact.slice(12, 16)}-${compact.slice(16, 20)}-${compact.slice(20)}`;
  }
  const title = child(root, 'title');
  if (title) {
    const t = title.textContent ?? '';
    if (t.includes('\n')) throw networkXmlError('title', 'title must not contain a newline');
    def.title = t;
  }
  const desc = child(root, 'description');
  if (desc) def.description = desc.textContent ?? '';
  const meta = child(root, 'metadata');
  if (meta) {
    const ser = new XMLSerializer();
    def.metadata = elements(meta).map((e) => ser.serializeToString(e)).join('\n');
  }
  return def;
}

/** Elements the model does not know, verbatim; a known one twice (but ip, route, portgroup) is refused. */
function unknownElements(root: El): string[] {
  const ser = new XMLSerializer();
  const seen = new Map<string, number>();
  const extra: string[] = [];
  for (const e of elements(root)) {
    const local = e.localName ?? e.nodeName;
    const known = e.namespaceURI === null && KNOWN.has(local);
    const repeatable = local === 'ip' || local === 'route' || local === 'portgroup';
    if (known) {
      const n = (seen.get(local) ?? 0) + 1;
      seen.set(local, n);
      if (n > 1 && !repeatable) throw networkXmlError(local, 'may appear only once');
      continue;
    }
    extra.push(ser.serializeToString(e));
  }
  return extra;
}

/** libvirt's element order and defaults (virNetworkDefFormatBuf). */
export function serializeNetworkXml(def: NetworkDef): string {
  validateNetwork(def);
  const o = new XmlOut('network');
  const net = o.root;
  for (const [prefix, uri] of def.namespaces) o.declare(prefix, uri);
  o.attrs(net, [['connections', def.connections], ['ipv6', def.ipv6 ? true : undefined], ['trustGuestRxFilters', def.trustGuestRxFilters]]);
  o.text(net, 'name', def.name);
  if (def.uuid) o.text(net, 'uuid', def.uuid);
  if (def.title !== undefined) o.text(net, 'title', def.title);
  if (def.description !== undefined) o.text(net, 'description', def.description);
  if (def.metadata !== undefined) o.raw(o.el(net, 'metadata'), def.metadata, def.namespaces);
  if (def.forward) writeForward(o, net, def.forward);
  writeBridge(o, net, def);
  writeDomain(o, net, def);
  if (def.dns) writeDns(o, net, def.dns);
  if (def.vlan) writeVlan(o, net, def.vlan);
  if (def.bandwidth) writeBandwidth(o, net, def.bandwidth);
  for (const ip of def.ips) writeIp(o, net, ip);
  for (const r of def.routes) writeRoute(o, net, r);
  if (def.virtualport) writeVirtualPort(o, net, def.virtualport);
  for (const pg of def.portgroups) writePortGroup(o, net, pg);
  writePort(o, net, def);
  for (const x of def.extra) o.raw(net, x, def.namespaces);
  return o.toString();
}
