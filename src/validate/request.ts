/**
 * Request → canonical model. Every attribute is checked here, before anything is touched;
 * an error names the network or bond, the attribute, and what is wrong (VDSM's codes).
 * Pure: no kernel, no files. Cross-entity rules that need the merged config or the kernel
 * are in topology.ts.
 */
import {
  badAddr, badBonding, badBridge, badNic, badParams, badVlan, HostnetError,
} from '../errors.js';
import { BOND_NAME_RE, IFNAME_MAX_BYTES, bridgeNameProblem, isValidIfname } from '../model/names.js';
import { BOND_OPTIONS, bondModeName, bondOptionsProblem } from '../model/bond-options.js';
import { BRIDGE_OPTIONS } from '../model/bridge-options.js';
import { dict, getKey, hasKey } from '../model/dict.js';
import type { Bond, Network, SetupOptions, SetupRequest } from '../model/types.js';
import { DEFAULT_MTU, MTU_MAX, MTU_MIN, isRemoval, REMOVE, type CanonicalRequest, type Removal } from '../model/request.js';
import {
  canonicalIpv6, ipv4UnicastProblem, ipv6UnicastProblem, isIpv4, isIpv6, netmaskToPrefix, parseIpv6Cidr,
} from '../model/ip.js';
import { isMac } from '../model/mac.js';
import { checkHostQos } from './qos.js';

const NET_ATTRS = new Set([
  'nic', 'bonding', 'vlan', 'bridged', 'mtu', 'stp', 'ipaddr', 'netmask', 'prefix', 'gateway',
  'defaultRoute', 'bootproto', 'ipv6addr', 'ipv6gateway', 'ipv6autoconf', 'dhcpv6', 'nameservers',
  'switch', 'hostQos', 'custom', 'remove', 'portIsolation', 'macTableManager', 'blockingdhcp',
]);
const BOND_ATTRS = new Set(['nics', 'options', 'hwaddr', 'remove', 'switch']);
const OPTIONS = new Set(['connectivityCheck', 'connectivityTimeout', 'commitOnSuccess']);

export function canonicalizeRequest(req: SetupRequest): CanonicalRequest {
  const networks: CanonicalRequest['networks'] = dict();
  for (const [name, attrs] of Object.entries(req.networks)) networks[name] = canonicalizeNetwork(name, attrs);
  const bonds: CanonicalRequest['bonds'] = dict();
  for (const [name, attrs] of Object.entries(req.bondings)) bonds[name] = canonicalizeBond(name, attrs);
  const holders = Object.entries(networks).filter(([, n]) => !isRemoval(n) && n.defaultRoute).map(([k]) => k);
  if (holders.length > 1) throw badParams(`more than one network asks for defaultRoute: ${holders.join(', ')}`);
  const blockingDhcp = new Set(Object.entries(req.networks).filter(([name, attrs]) => blockingDhcpOf(name, attrs, networks[name]!)).map(([k]) => k));
  return { networks, bonds, options: canonicalizeOptions(req.options), blockingDhcp };
}

// ---- networks -------------------------------------------------------------------------------

export function canonicalizeNetwork(name: string, attrs: Record<string, unknown>): Network | Removal {
  const where = `network '${name}'`;
  const problem = bridgeNameProblem(name);
  if (problem) throw badBridge(`${where}: bad network name: ${problem}`);
  for (const key of Object.keys(attrs)) {
    if (!NET_ATTRS.has(key)) throw badParams(`${where}: unknown attribute '${key}'`);
  }
  if (attrs.remove !== undefined && toBool(attrs.remove, where, 'remove')) {
    const others = Object.keys(attrs).filter((k) => k !== 'remove');
    if (others.length) throw badParams(`${where}: 'remove' takes no other attributes (got ${others.join(', ')})`);
    return REMOVE;
  }

  notSupportedYet(attrs, where);
  if (attrs.nic !== undefined && attrs.bonding !== undefined) {
    throw badParams(`${where}: 'nic' and 'bonding' are exclusive`);
  }
  const nic = attrs.nic === undefined ? undefined : checkNicName(attrs.nic, `${where}: nic`);
  const bonding = attrs.bonding === undefined ? undefined : checkBondName(attrs.bonding, `${where}: bonding`);
  const device = nic ?? bonding;
  const bridged = attrs.bridged === undefined ? true : toBool(attrs.bridged, where, 'bridged');
  const vlan = attrs.vlan === undefined ? undefined : checkVlan(attrs.vlan, where, device);
  if (!bridged && device === undefined) throw badParams(`${where}: a bridgeless network needs 'nic' or 'bonding'`);

  const mtu = attrs.mtu === undefined ? DEFAULT_MTU : checkMtu(attrs.mtu, where);
  const stp = attrs.stp === undefined ? false : toStp(attrs.stp, where);
  const defaultRoute = attrs.defaultRoute === undefined ? false : toBool(attrs.defaultRoute, where, 'defaultRoute');
  const nameservers = checkNameservers(attrs.nameservers, where);
  if (nameservers.length && !defaultRoute) {
    throw badParams(`${where}: 'nameservers' is allowed only on the defaultRoute network`);
  }
  const portIsolation = attrs.portIsolation === undefined ? false : toBool(attrs.portIsolation, where, 'portIsolation');
  const macTableManager = checkMacTableManager(attrs.macTableManager, where);
  if (!bridged) {
    if (attrs.portIsolation !== undefined) throw badParams(`${where}: 'portIsolation' is for bridged networks only`);
    if (attrs.macTableManager !== undefined) throw badParams(`${where}: 'macTableManager' is for bridged networks only`);
    if (attrs.stp !== undefined && stp) throw badParams(`${where}: 'stp' is for bridged networks only`);
    if (attrs.custom !== undefined) throw badParams(`${where}: 'custom.bridge_opts' is for bridged networks only`);
  }

  const net: Network = {
    name,
    bridged,
    mtu,
    stp,
    ipv6: checkIpv6(attrs, where),
    defaultRoute,
    nameservers,
    bridgeOpts: checkCustom(attrs.custom, where),
    portIsolation,
    macTableManager,
    switch: 'legacy',
    bootproto: attrs.bootproto === 'dhcp' ? 'dhcp' : 'none',
    dhcpv6: attrs.dhcpv6 === undefined ? false : toBool(attrs.dhcpv6, where, 'dhcpv6'),
  };
  if (nic !== undefined) net.nic = nic;
  if (bonding !== undefined) net.bonding = bonding;
  if (vlan !== undefined) net.vlan = vlan;
  const ipv4 = checkIpv4(attrs, where);
  if (ipv4) net.ipv4 = ipv4;
  const hostQos = attrs.hostQos === undefined ? undefined : checkHostQos(attrs.hostQos, where, { device, ...(vlan !== undefined ? { vlan } : {}) });
  if (hostQos) net.hostQos = hostQos;
  return net;
}

/**
 * blockingdhcp (VDSM's): the answer waits for the network's leases. Volatile: it shapes this one
 * change and is never stored. Only meaningful with a DHCP client on the network.
 */
function blockingDhcpOf(name: string, attrs: Record<string, unknown>, net: Network | Removal): boolean {
  if (attrs.blockingdhcp === undefined || isRemoval(net)) return false;
  const on = toBool(attrs.blockingdhcp, `network '${name}'`, 'blockingdhcp');
  if (on && net.bootproto !== 'dhcp' && !net.dhcpv6) {
    throw badParams(`network '${name}': 'blockingdhcp' needs bootproto 'dhcp' or dhcpv6`);
  }
  return on;
}

function notSupportedYet(attrs: Record<string, unknown>, where: string): void {
  if (attrs.bootproto !== undefined && attrs.bootproto !== 'none') {
    if (attrs.bootproto !== 'dhcp') throw badParams(`${where}: 'bootproto' must be 'none' or 'dhcp', got ${show(attrs.bootproto)}`);
    if (attrs.ipaddr !== undefined && attrs.ipaddr !== '') throw badAddr(`${where}: static 'ipaddr' together with bootproto 'dhcp'`);
  }
  if (attrs.switch !== undefined && attrs.switch !== 'legacy') {
    if (attrs.switch === 'ovs') throw badParams(`${where}: switch 'ovs' is not supported`);
    throw badParams(`${where}: 'switch' must be 'legacy', got ${show(attrs.switch)}`);
  }
}

function checkNicName(v: unknown, what: string): string {
  if (!isValidIfname(v)) throw badNic(`${what}: ${show(v)} is not a valid interface name`);
  return v;
}

function checkBondName(v: unknown, what: string): string {
  if (typeof v !== 'string' || !BOND_NAME_RE.test(v) || Buffer.byteLength(v) > IFNAME_MAX_BYTES) {
    throw badBonding(`${what}: bad bond name ${show(v)} (must match bond<word> and be at most ${IFNAME_MAX_BYTES} bytes)`);
  }
  return v;
}

function checkVlan(v: unknown, where: string, device: string | undefined): number {
  const id = toInt(v);
  if (id === null || id < 0 || id > 4094) throw badVlan(`${where}: vlan must be a number from 0 to 4094, got ${show(v)}`);
  if (device === undefined) throw badVlan(`${where}: vlan ${id} needs 'nic' or 'bonding'`);
  const dev = `${device}.${id}`;
  if (Buffer.byteLength(dev) > IFNAME_MAX_BYTES) {
    throw badVlan(`${where}: vlan device name '${dev}' is longer than ${IFNAME_MAX_BYTES} bytes`);
  }
  return id;
}

function checkMtu(v: unknown, where: string): number {
  const mtu = toInt(v);
  if (mtu === null || mtu < MTU_MIN || mtu > MTU_MAX) {
    throw badParams(`${where}: mtu must be a number from ${MTU_MIN} to ${MTU_MAX}, got ${show(v)}`);
  }
  return mtu;
}

function checkIpv4(attrs: Record<string, unknown>, where: string): Network['ipv4'] {
  const { ipaddr, netmask, prefix, gateway } = attrs;
  if (ipaddr === undefined || ipaddr === '') {
    if (netmask !== undefined && netmask !== '') throw badAddr(`${where}: 'netmask' without 'ipaddr'`);
    if (prefix !== undefined && prefix !== '') throw badAddr(`${where}: 'prefix' without 'ipaddr'`);
    if (gateway !== undefined && gateway !== '') throw badAddr(`${where}: 'gateway' without 'ipaddr'`);
    return undefined;
  }
  if (!isIpv4(ipaddr)) throw badAddr(`${where}: ipaddr ${show(ipaddr)} is not an IPv4 address`);
  const addrProblem = ipv4UnicastProblem(ipaddr);
  if (addrProblem) throw badAddr(`${where}: ipaddr ${show(ipaddr)} ${addrProblem}`);
  if (netmask !== undefined && prefix !== undefined) throw badParams(`${where}: 'netmask' and 'prefix' are exclusive`);
  let len: number | null;
  if (netmask !== undefined) {
    len = typeof netmask === 'string' ? netmaskToPrefix(netmask) : null;
    if (len === null) throw badAddr(`${where}: netmask ${show(netmask)} is not a valid IPv4 netmask`);
    // a /0 "subnet" is the whole Internet on one link: every address would be on-link
    if (len === 0) throw badAddr(`${where}: netmask ${show(netmask)} is a zero-length prefix`);
  } else if (prefix !== undefined) {
    len = toInt(prefix);
    if (len === null || len < 1 || len > 32) throw badAddr(`${where}: prefix must be a number from 1 to 32, got ${show(prefix)}`);
  } else {
    throw badAddr(`${where}: 'ipaddr' needs 'netmask' or 'prefix'`);
  }
  const out: NonNullable<Network['ipv4']> = { address: ipaddr, prefix: len };
  if (gateway !== undefined && gateway !== '') {
    if (!isIpv4(gateway)) throw badAddr(`${where}: gateway ${show(gateway)} is not an IPv4 address`);
    const gwProblem = ipv4UnicastProblem(gateway);
    if (gwProblem) throw badAddr(`${where}: gateway ${show(gateway)} ${gwProblem}`);
    out.gateway = gateway;
  }
  return out;
}

function checkIpv6(attrs: Record<string, unknown>, where: string): Network['ipv6'] {
  const autoconf = attrs.ipv6autoconf === undefined ? false : toBool(attrs.ipv6autoconf, where, 'ipv6autoconf');
  const out: Network['ipv6'] = { addresses: [], autoconf };
  const { ipv6addr, ipv6gateway } = attrs;
  if (ipv6addr !== undefined && ipv6addr !== '') {
    const cidr = typeof ipv6addr === 'string' ? parseIpv6Cidr(ipv6addr) : null;
    if (!cidr) throw badAddr(`${where}: ipv6addr ${show(ipv6addr)} is not an IPv6 'address/prefix'`);
    if (cidr.startsWith('fe80:')) throw badAddr(`${where}: ipv6addr ${show(ipv6addr)} is link-local`);
    const v6Problem = ipv6UnicastProblem(cidr.slice(0, cidr.lastIndexOf('/')));
    if (v6Problem) throw badAddr(`${where}: ipv6addr ${show(ipv6addr)} ${v6Problem}`);
    if (cidr.endsWith('/0')) throw badAddr(`${where}: ipv6addr ${show(ipv6addr)} has a zero-length prefix`);
    out.addresses.push(cidr);
  }
  if (ipv6gateway !== undefined && ipv6gateway !== '' && ipv6gateway !== '::') {
    if (!isIpv6(ipv6gateway)) throw badAddr(`${where}: ipv6gateway ${show(ipv6gateway)} is not an IPv6 address`);
    // '::' alone means "no gateway" (VDSM's capabilities report it so); other spellings of it are refused
    const gw6Problem = ipv6UnicastProblem(ipv6gateway);
    if (gw6Problem) throw badAddr(`${where}: ipv6gateway ${show(ipv6gateway)} ${gw6Problem}`);
    if (!out.addresses.length && !autoconf) throw badAddr(`${where}: 'ipv6gateway' without 'ipv6addr' or 'ipv6autoconf'`);
    out.gateway = canonicalIpv6(ipv6gateway);
  }
  return out;
}

function checkNameservers(v: unknown, where: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw badParams(`${where}: 'nameservers' must be a list of addresses`);
  return v.map((ns) => {
    if (isIpv4(ns)) return ns;
    if (isIpv6(ns)) return canonicalIpv6(ns);
    throw badAddr(`${where}: nameserver ${show(ns)} is not an IP address`);
  });
}

function checkMacTableManager(v: unknown, where: string): Network['macTableManager'] {
  if (v === undefined) return 'kernel';
  if (v === 'kernel' || v === 'libvirt') return v;
  throw badParams(`${where}: 'macTableManager' must be 'kernel' or 'libvirt', got ${show(v)}`);
}

function checkCustom(v: unknown, where: string): Record<string, string> {
  if (v === undefined) return dict();
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badParams(`${where}: 'custom' must be an object`);
  const custom = v as Record<string, unknown>;
  for (const key of Object.keys(custom)) {
    if (key !== 'bridge_opts') throw badParams(`${where}: unknown custom attribute '${key}'`);
  }
  if (custom.bridge_opts === undefined) return dict();
  if (typeof custom.bridge_opts !== 'string') throw badParams(`${where}: 'custom.bridge_opts' must be a string`);
  return parseKeyValues(custom.bridge_opts, (key, value) => {
    if (!hasKey(BRIDGE_OPTIONS, key)) throw badParams(`${where}: custom.bridge_opts: unknown bridge option '${key}'`);
    if (!/^\d+$/.test(value)) throw badParams(`${where}: custom.bridge_opts: ${key} must be a number, got '${value}'`);
  }, (word) => badParams(`${where}: custom.bridge_opts: '${word}' is not key=value`));
}

// ---- bonds ----------------------------------------------------------------------------------

export function canonicalizeBond(name: string, attrs: Record<string, unknown>): Bond | Removal {
  const where = `bond '${name}'`;
  checkBondName(name, where);
  for (const key of Object.keys(attrs)) {
    if (!BOND_ATTRS.has(key)) throw badParams(`${where}: unknown attribute '${key}'`);
  }
  if (attrs.remove !== undefined && toBool(attrs.remove, where, 'remove')) {
    const others = Object.keys(attrs).filter((k) => k !== 'remove');
    if (others.length) throw badParams(`${where}: 'remove' takes no other attributes (got ${others.join(', ')})`);
    return REMOVE;
  }
  if (attrs.switch !== undefined && attrs.switch !== 'legacy') {
    throw badParams(`${where}: switch ${show(attrs.switch)} is not supported`);
  }
  if (!Array.isArray(attrs.nics) || attrs.nics.length === 0) throw badParams(`${where}: 'nics' must list at least one NIC`);
  const nics = attrs.nics.map((n) => checkNicName(n, `${where}: nics`));
  if (new Set(nics).size !== nics.length) throw badParams(`${where}: 'nics' lists a NIC twice`);
  const bond: Bond = { name, nics: [...nics].sort(), options: parseBondOptions(attrs.options, where) };
  const primary = bond.options.primary;
  if (primary !== undefined && !nics.includes(primary)) {
    throw badBonding(`${where}: bond option primary '${primary}' is not one of its nics (${nics.join(', ')})`);
  }
  if (attrs.hwaddr !== undefined) {
    if (typeof attrs.hwaddr !== 'string' || !isMac(attrs.hwaddr)) {
      throw badParams(`${where}: hwaddr ${show(attrs.hwaddr)} is not a MAC address`);
    }
    bond.hwaddr = attrs.hwaddr.toLowerCase();
  }
  return bond;
}

export function parseBondOptions(v: unknown, where: string): Record<string, string> {
  if (v !== undefined && typeof v !== 'string') throw badBonding(`${where}: 'options' must be a string`);
  const opts = parseKeyValues(v ?? '', () => {}, (word) => badBonding(`${where}: bond option '${word}' is not key=value`));
  const mode = bondModeName(opts.mode ?? 'balance-rr');
  if (!mode) throw badBonding(`${where}: unknown bond mode '${opts.mode}'`);
  opts.mode = mode;
  for (const [key, value] of Object.entries(opts)) {
    if (key === 'mode') continue;
    const spec = getKey(BOND_OPTIONS, key);
    if (!spec) throw badBonding(`${where}: unknown bond option '${key}'`);
    if (!spec.modes.includes(mode)) throw badBonding(`${where}: bond option '${key}' does not apply to mode ${mode}`);
    if (!spec.value.test(value)) throw badBonding(`${where}: bad value '${value}' for bond option '${key}'`);
  }
  const problem = bondOptionsProblem(opts);
  if (problem) throw badBonding(`${where}: bond options: ${problem}`);
  return opts;
}

// ---- options --------------------------------------------------------------------------------

export function canonicalizeOptions(opts: Record<string, unknown>): SetupOptions {
  for (const key of Object.keys(opts)) {
    if (!OPTIONS.has(key)) throw badParams(`options: unknown option '${key}'`);
  }
  const given = opts.connectivityTimeout;
  // only a number or a numeric string: Number() of a deeply nested array recurses through join()
  const timeout = given === undefined ? 4 : typeof given === 'number' || typeof given === 'string' ? Number(given) : NaN;
  if (!Number.isFinite(timeout) || timeout < 0 || timeout > 3600 || given === '') {
    throw badParams(`options: connectivityTimeout must be a number of seconds from 0 to 3600, got ${show(opts.connectivityTimeout)}`);
  }
  return {
    connectivityCheck: opts.connectivityCheck === undefined ? true : toBool(opts.connectivityCheck, 'options', 'connectivityCheck'),
    connectivityTimeout: timeout,
    commitOnSuccess: opts.commitOnSuccess === undefined ? false : toBool(opts.commitOnSuccess, 'options', 'commitOnSuccess'),
  };
}

// ---- small parsers --------------------------------------------------------------------------

function parseKeyValues(
  text: string,
  check: (key: string, value: string) => void,
  bad: (word: string) => HostnetError,
): Record<string, string> {
  const out = dict<string>();
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const m = /^([A-Za-z0-9_]+)=([^=\s]+)$/.exec(word);
    if (!m) throw bad(word);
    check(m[1]!, m[2]!);
    out[m[1]!] = m[2]!;
  }
  return out;
}

function toBool(v: unknown, where: string, attr: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'True') return true;
  if (v === 'false' || v === 'False') return false;
  throw badParams(`${where}: '${attr}' must be true or false, got ${show(v)}`);
}

function toStp(v: unknown, where: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (['on', 'yes', 'true'].includes(s)) return true;
    if (['off', 'no', 'false'].includes(s)) return false;
  }
  throw badParams(`${where}: 'stp' must be a boolean or on/off/yes/no/true/false, got ${show(v)}`);
}

function toInt(v: unknown): number | null {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return null;
}

/** A short quote of a value for a message; never throws (a value nested 20,000 deep overflows JSON.stringify). */
function show(v: unknown): string {
  if (typeof v === 'string') return clip(JSON.stringify(v));
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `a list of ${v.length} (${v.every(isScalar) ? clip(JSON.stringify(v)) : 'nested'})`;
  if (typeof v === 'object' && v !== null) return `an object with keys ${clip(Object.keys(v).join(', '))}`;
  return String(v);
}

const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
const clip = (s: string) => (s.length > 60 ? `${s.slice(0, 57)}...` : s);
