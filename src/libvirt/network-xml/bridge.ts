/**
 * The bridge and its link-level settings (formatnetwork "Connectivity" and "Addressing"):
 * <bridge> (name, zone, stp, delay, macTableManager), <mtu>, <mac>, <port isolated>.
 */
import { attr, child, oneOf, onOff, parseMac, required, uint, yesNo, onOffText, type El, type XmlOut } from './dom.js';
import { networkXmlError, type BridgeDef, type NetworkDef } from './model.js';
import { L3_MODES, forwardModeOf } from './rules.js';
import { isMulticastMac } from '../../model/mac.js';

export function parseBridge(e: El): BridgeDef {
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

/** <mtu>, <mac> and <port> of the root element, into def */
export function parseLinkParts(root: El, def: NetworkDef): void {
  const mtu = child(root, 'mtu');
  if (mtu) {
    const size = uint(mtu, 'size', 'mtu', 0xffffffff);
    if (size === undefined) throw networkXmlError('mtu', 'missing required attribute size');
    def.mtu = size;
  }
  const mac = child(root, 'mac');
  if (mac) {
    def.mac = parseMac(required(mac, 'address', 'mac'), 'mac');
    if (isMulticastMac(def.mac)) throw networkXmlError('mac', `multicast address '${def.mac}' is not allowed for a bridge`);
  }
  const port = child(root, 'port');
  if (port) {
    const iso = yesNo(port, 'isolated', 'port');
    if (iso !== undefined) def.port = { isolated: iso };
  }
}

/** <bridge>, <mtu> and <mac>, as libvirt writes them (see writePort for <port>) */
export function writeBridge(o: XmlOut, parent: El, def: NetworkDef): void {
  const l3 = L3_MODES.includes(forwardModeOf(def));
  if (l3 || def.bridge?.name !== undefined || def.bridge?.macTableManager !== undefined) {
    const b = def.bridge ?? {};
    // for networks whose bridge libvirt creates, it always prints stp and delay (defaults on, 0)
    o.el(parent, 'bridge', [['name', b.name], ['zone', b.zone],
      ['stp', l3 ? (b.stp ?? true) : undefined], ['delay', l3 ? (b.delay ?? 0) : undefined],
      ['macTableManager', b.macTableManager]], onOffText);
  }
  if (def.mtu !== undefined) o.el(parent, 'mtu', [['size', def.mtu]]);
  if (def.mac) o.el(parent, 'mac', [['address', def.mac]]);
}

export function writePort(o: XmlOut, parent: El, def: NetworkDef): void {
  if (def.port) o.el(parent, 'port', [['isolated', def.port.isolated]]);
}
