/** Port profiles (formatnetwork "Portgroups", "Virtual port"): <virtualport> and <portgroup>. */
import { child, oneOf, required, yesNo, type El, type XmlOut } from './dom.js';
import { networkXmlError, type PortGroupDef, type VirtualPortDef } from './model.js';
import { parseBandwidth, parseVlan, writeBandwidth, writeVlan } from './qos.js';

const VPORT_TYPES = ['802.1Qbg', '802.1Qbh', 'openvswitch', 'midonet'] as const;

export function parseVirtualPort(e: El): VirtualPortDef {
  const vp: VirtualPortDef = {};
  const type = oneOf(e, 'type', VPORT_TYPES, 'virtualport');
  if (type !== undefined) vp.type = type;
  const p = child(e, 'parameters');
  if (p) vp.parameters = Array.from(p.attributes).map((a) => [a.name, a.value] as [string, string]);
  return vp;
}

export function parsePortGroup(e: El): PortGroupDef {
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
  if (child(e, 'port')) throw networkXmlError('portgroup', `<port> is not allowed in <portgroup name='${pg.name}'>`);
  return pg;
}

export function writeVirtualPort(o: XmlOut, parent: El, vp: VirtualPortDef): void {
  const e = o.el(parent, 'virtualport', [['type', vp.type]]);
  if (vp.parameters && vp.parameters.length > 0) o.el(e, 'parameters', vp.parameters);
}

export function writePortGroup(o: XmlOut, parent: El, pg: PortGroupDef): void {
  const e = o.el(parent, 'portgroup', [['name', pg.name], ['default', pg.default], ['trustGuestRxFilters', pg.trustGuestRxFilters]]);
  if (pg.vlan) writeVlan(o, e, pg.vlan);
  if (pg.virtualport) writeVirtualPort(o, e, pg.virtualport);
  if (pg.bandwidth) writeBandwidth(o, e, pg.bandwidth);
}
