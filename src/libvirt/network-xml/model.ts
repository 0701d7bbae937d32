/**
 * The typed model of libvirt's network XML (https://libvirt.org/formatnetwork.html), one
 * interface per element, and the error a refused document raises. Pure types and constants.
 */
import { ErrorCode, hasDetail, HostnetError } from '../../errors.js';

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

export interface NetworkXmlFailure {
  kind: 'network-xml';
  element: string;
}

/** A network XML libvirt would refuse, or that is not XML (LIBVIRT_FAILED). `element` names the culprit. */
export const networkXmlError = (element: string, message: string): HostnetError<NetworkXmlFailure> =>
  new HostnetError(ErrorCode.LIBVIRT_FAILED, `network XML: <${element}>: ${message}`, { detail: { kind: 'network-xml', element } });

export const isNetworkXmlError = (e: unknown): e is HostnetError<NetworkXmlFailure> & { detail: NetworkXmlFailure } =>
  hasDetail<NetworkXmlFailure>(e, 'network-xml');
