/**
 * Rules across elements (virNetworkDefParseXML's checks after the parts are read) and
 * libvirt's parse-time defaults.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { networkXmlError, type ForwardMode, type NetworkDef } from './model.js';

export const L3_MODES: readonly (ForwardMode | 'none')[] = ['none', 'nat', 'route', 'open'];
const NO_BANDWIDTH: readonly ForwardMode[] = ['bridge', 'private', 'vepa', 'passthrough', 'hostdev'];

/** forward mode as libvirt sees it: no <forward> is an isolated ('none') network. */
export const forwardModeOf = (def: NetworkDef): ForwardMode | 'none' => def.forward?.mode ?? 'none';

export function validateNetwork(def: NetworkDef): void {
  const mode = forwardModeOf(def);
  const fwd = def.forward;
  const where = `network '${def.name}'`;
  const stpDelay = def.bridge?.stp !== undefined || def.bridge?.delay !== undefined;

  if (mode === 'nat' || mode === 'route' || mode === 'open') {
    if (def.ips.length === 0) throw networkXmlError('forward', `${where}: mode='${mode}' needs an <ip> address`);
    if ((fwd?.interfaces.length ?? 0) > 1) {
      throw networkXmlError('forward', `${where}: mode='${mode}' supports only one forward interface`);
    }
  }
  if (mode === 'bridge' || mode === 'private' || mode === 'vepa' || mode === 'passthrough' || mode === 'hostdev') {
    if (stpDelay) {
      throw networkXmlError('bridge', `${where}: stp and delay are only allowed in route, nat, open and isolated mode, not '${mode}'`);
    }
    const devs = (fwd?.interfaces.length ?? 0) + (fwd?.pfs.length ?? 0);
    if (def.bridge?.name !== undefined && devs > 0) {
      throw networkXmlError('bridge', `${where}: mode='${mode}' takes a bridge name or a forward dev, not both`);
    }
    if (mode !== 'bridge') {
      if (def.bridge?.name !== undefined) throw networkXmlError('bridge', `${where}: a bridge name is not allowed in mode='${mode}'`);
      if (def.bridge?.zone !== undefined) throw networkXmlError('bridge', `${where}: a firewalld zone is not allowed in mode='${mode}'`);
      if (def.bridge?.macTableManager !== undefined) {
        throw networkXmlError('bridge', `${where}: macTableManager is not allowed in mode='${mode}'`);
      }
    }
  }
  if (def.mtu !== undefined && !L3_MODES.includes(mode)) {
    // libvirt (9.0 and 11.x) refuses it: the MTU of a bridge libvirt does not create is the host's business
    throw networkXmlError('mtu', `${where}: <mtu> is only allowed in open, route, nat and isolated mode, not '${mode}'`);
  }
  if (NO_BANDWIDTH.includes(mode as ForwardMode)) {
    if (def.bandwidth) throw networkXmlError('bandwidth', `${where}: network-wide <bandwidth> is not supported with forward mode='${mode}'`);
    const pg = def.portgroups.find((p) => p.bandwidth);
    if (pg) throw networkXmlError('bandwidth', `${where}: <bandwidth> in <portgroup name='${pg.name}'> is not supported with forward mode='${mode}'`);
  }
  if (fwd?.managed !== undefined && mode !== 'hostdev') {
    throw networkXmlError('forward', `${where}: managed is only allowed with mode='hostdev'`);
  }
  if (fwd && fwd.addresses.length > 0 && mode !== 'hostdev' && mode !== 'passthrough') {
    throw networkXmlError('address', `${where}: PCI <address> is only allowed with mode='hostdev' or 'passthrough'`);
  }
  if (!L3_MODES.includes(mode)) {
    if (def.dns && (def.dns.hosts.length || def.dns.txts.length || def.dns.srvs.length || def.dns.forwarders.length)) {
      throw networkXmlError('dns', `${where}: DNS records are only allowed in route, nat, open and isolated mode`);
    }
    if (def.domain) throw networkXmlError('domain', `${where}: <domain> is only allowed in route, nat, open and isolated mode`);
  }
  const v4dhcp = def.ips.filter((i) => i.dhcp && isIPv4(i.address));
  const v6dhcp = def.ips.filter((i) => i.dhcp && isIPv6(i.address));
  if (v4dhcp.length > 1) throw networkXmlError('dhcp', `${where}: <dhcp> is supported on only one IPv4 address`);
  if (v6dhcp.length > 1) throw networkXmlError('dhcp', `${where}: <dhcp> is supported on only one IPv6 address`);
  if (def.ips.filter((i) => i.tftp).length > 1) throw networkXmlError('tftp', `${where}: <tftp> is supported on only one IPv4 address`);

  const names = new Set<string>();
  let dflt: string | undefined;
  for (const pg of def.portgroups) {
    if (names.has(pg.name)) throw networkXmlError('portgroup', `${where}: two portgroups are named '${pg.name}'`);
    names.add(pg.name);
    if (pg.default) {
      if (dflt !== undefined) {
        throw networkXmlError('portgroup', `${where}: portgroups '${dflt}' and '${pg.name}' are both default; only one may be`);
      }
      dflt = pg.name;
    }
  }
}

/**
 * libvirt's parse-time defaults, so a parsed model equals what libvirt would hold: a network
 * whose bridge libvirt creates (isolated, nat, route, open) has stp on and delay 0 unless set.
 */
export function applyDefaults(def: NetworkDef): void {
  if (L3_MODES.includes(forwardModeOf(def))) {
    const b = (def.bridge ??= {});
    b.stp ??= true;
    b.delay ??= 0;
  }
}
