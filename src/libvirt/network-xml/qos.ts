/** Traffic settings a network (or a port group) hands its ports (formatnetwork "Quality of service", "Setting VLAN tag"): <bandwidth>, <vlan>. */
import { children, oneOf, uint, yesNo, type El, type XmlOut } from './dom.js';
import { networkXmlError, type BandwidthDef, type Rate, type VlanDef } from './model.js';

export function parseVlan(e: El): VlanDef {
  const v: VlanDef = { tags: [] };
  const trunk = yesNo(e, 'trunk', 'vlan');
  if (trunk !== undefined) v.trunk = trunk;
  for (const t of children(e, 'tag')) {
    const id = uint(t, 'id', 'tag', 4095);
    if (id === undefined) throw networkXmlError('tag', 'missing required attribute id');
    const nm = oneOf(t, 'nativeMode', ['tagged', 'untagged'] as const, 'tag');
    v.tags.push(nm !== undefined ? { id, nativeMode: nm } : { id });
  }
  if (v.tags.length === 0) throw networkXmlError('vlan', 'needs at least one <tag>');
  if (v.trunk === false && v.tags.length > 1) throw networkXmlError('vlan', "trunk='no' allows only one <tag>");
  if (v.tags.filter((t) => t.nativeMode).length > 1) throw networkXmlError('vlan', 'only one <tag> may set nativeMode');
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

export function parseBandwidth(e: El): BandwidthDef {
  const bw: BandwidthDef = {};
  const ins = children(e, 'inbound');
  const outs = children(e, 'outbound');
  if (ins.length > 1 || outs.length > 1) throw networkXmlError('bandwidth', 'only one <inbound> and one <outbound> allowed');
  if (ins[0]) {
    bw.inbound = parseRate(ins[0], 'inbound');
    if (bw.inbound.average === undefined && bw.inbound.floor === undefined) {
      throw networkXmlError('inbound', 'needs average or floor');
    }
  }
  if (outs[0]) {
    bw.outbound = parseRate(outs[0], 'outbound');
    if (bw.outbound.average === undefined) throw networkXmlError('outbound', 'missing required attribute average');
    if (bw.outbound.floor !== undefined) throw networkXmlError('outbound', 'floor is only supported on <inbound>');
  }
  return bw;
}

export function writeVlan(o: XmlOut, parent: El, v: VlanDef): void {
  const e = o.el(parent, 'vlan', [['trunk', v.trunk]]);
  for (const t of v.tags) o.el(e, 'tag', [['id', t.id], ['nativeMode', t.nativeMode]]);
}

export function writeBandwidth(o: XmlOut, parent: El, b: BandwidthDef): void {
  const e = o.el(parent, 'bandwidth');
  const rate = (r: Rate): [string, number | undefined][] => [['average', r.average], ['peak', r.peak], ['floor', r.floor], ['burst', r.burst]];
  if (b.inbound) o.el(e, 'inbound', rate(b.inbound));
  if (b.outbound) o.el(e, 'outbound', rate(b.outbound));
}
