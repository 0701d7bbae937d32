/**
 * <forward>: how the network reaches the outside (formatnetwork "Connectivity"): mode, nat
 * address and port ranges, the device pool (pf, interface, PCI address) and driver.
 */
import { isIPv4 } from 'node:net';
import { attr, child, children, oneOf, required, uint, yesNo, type El, type XmlOut } from './dom.js';
import { ipToBigInt } from '../../model/ip.js';
import { FORWARD_MODES, networkXmlError, type ForwardDef, type ForwardInterface, type NatDef, type PciAddress } from './model.js';

function parsePci(e: El): PciAddress {
  const type = attr(e, 'type');
  if (type !== 'pci') throw networkXmlError('address', `type='${type ?? ''}' is not supported in <forward>, only 'pci'`);
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

export function parseForward(e: El): ForwardDef {
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
  if (nats.length > 1) throw networkXmlError('nat', 'only one <nat> is allowed in <forward>');
  if (nats[0]) {
    if (mode !== 'nat') throw networkXmlError('nat', `<nat> is only allowed with forward mode='nat', not '${mode}'`);
    fwd.nat = parseNat(nats[0]);
  }
  const pfs = children(e, 'pf');
  if (pfs.length > 1) throw networkXmlError('pf', 'only one <pf> is allowed in <forward>');
  fwd.pfs = pfs.map((p) => ({ dev: required(p, 'dev', 'pf') }));
  for (const i of children(e, 'interface')) {
    const dev = required(i, 'dev', 'interface');
    if (fwd.interfaces.some((x) => x.dev === dev)) {
      throw networkXmlError('interface', `interface '${dev}' is listed more than once in <forward>`);
    }
    const fi: ForwardInterface = { dev };
    const c = uint(i, 'connections', 'interface');
    if (c !== undefined) fi.connections = c;
    fwd.interfaces.push(fi);
  }
  for (const a of children(e, 'address')) {
    const pci = parsePci(a);
    if (fwd.addresses.some((x) => pciString(x) === pciString(pci))) {
      throw networkXmlError('address', `PCI device ${pciString(pci)} is listed more than once in <forward>`);
    }
    fwd.addresses.push(pci);
  }
  const kinds = [fwd.pfs.length, fwd.interfaces.length, fwd.addresses.length].filter((n) => n > 0).length;
  if (kinds > 1) throw networkXmlError('forward', '<pf>, <interface> and <address> are mutually exclusive');

  const dev = attr(e, 'dev');
  if (dev !== undefined) {
    if (dev === '') throw networkXmlError('forward', 'attribute dev is empty');
    if (mode === 'open') throw networkXmlError('forward', "forward dev is not allowed with forward mode='open'");
    const first = fwd.interfaces[0];
    if (first && first.dev !== dev) {
      throw networkXmlError('forward', `dev='${dev}' must match the first <interface dev='${first.dev}'>`);
    }
    if (fwd.addresses.length > 0) throw networkXmlError('forward', 'dev is not allowed with PCI <address> elements');
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
  if (addrs.length > 1) throw networkXmlError('nat', 'only one <address> is allowed in <nat>');
  if (addrs[0]) {
    const start = required(addrs[0], 'start', 'address');
    const end = attr(addrs[0], 'end') ?? start;
    if (!isIPv4(start) || !isIPv4(end)) throw networkXmlError('address', `<nat> address range ${start}-${end} must be IPv4`);
    if (ipToBigInt(start) > ipToBigInt(end)) throw networkXmlError('address', `<nat> address range ${start}-${end} is reversed`);
    nat.address = { start, end };
  }
  const ports = children(e, 'port');
  if (ports.length > 1) throw networkXmlError('nat', 'only one <port> is allowed in <nat>');
  if (ports[0]) {
    const start = uint(ports[0], 'start', 'port', 65535);
    const end = uint(ports[0], 'end', 'port', 65535);
    if (start === undefined || end === undefined) throw networkXmlError('port', '<nat> port needs start and end');
    if (start > end) throw networkXmlError('port', `<nat> port range ${start}-${end} is reversed`);
    nat.port = { start, end };
  }
  return nat;
}

const hex = (n: number, w: number) => `0x${n.toString(16).padStart(w, '0')}`;

export function writeForward(o: XmlOut, parent: El, f: ForwardDef): void {
  // libvirt prints the first netdev interface as dev= unless there is a <pf>
  const dev = f.pfs.length === 0 ? f.interfaces[0]?.dev : undefined;
  const e = o.el(parent, 'forward', [['dev', dev], ['mode', f.mode], ['managed', f.managed], ['trustGuestRxFilters', f.trustGuestRxFilters]]);
  if (f.driver) o.el(e, 'driver', [['name', f.driver.name], ['model', f.driver.model]]);
  if (f.nat) {
    const nat = o.el(e, 'nat', [['ipv6', f.nat.ipv6]]);
    if (f.nat.address) o.el(nat, 'address', [['start', f.nat.address.start], ['end', f.nat.address.end]]);
    if (f.nat.port) o.el(nat, 'port', [['start', f.nat.port.start], ['end', f.nat.port.end]]);
  }
  for (const p of f.pfs) o.el(e, 'pf', [['dev', p.dev]]);
  for (const i of f.interfaces) o.el(e, 'interface', [['dev', i.dev], ['connections', i.connections]]);
  for (const a of f.addresses) {
    o.el(e, 'address', [['type', 'pci'], ['domain', hex(a.domain, 4)], ['bus', hex(a.bus, 2)], ['slot', hex(a.slot, 2)], ['function', hex(a.function, 1)]]);
  }
}
