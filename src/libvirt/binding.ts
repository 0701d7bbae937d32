/**
 * Typed wrapper over hostnetd's libvirt addon (native/libvirt_addon.cc, built by
 * scripts/build-addon.sh into build/Release/hostnet_libvirt.node).
 *
 * The addon is loaded lazily, on the first open(): a host without libvirt-dev (or without the
 * built addon) gets a LIBVIRT_UNAVAILABLE error it can report, and hostnetd runs without libvirt.
 * Every call runs on a worker thread and returns a Promise; libvirt's failures reject with a
 * LIBVIRT_FAILED HostnetError carrying libvirt's code, domain and message (libvirtError).
 *
 * Example:
 *   const conn = await LibvirtConnection.open('test:///default');
 *   const off = conn.onEvent((ev) => log.info(ev));
 *   await conn.defineNetwork(xml); await conn.startNetwork('vdsm-ovirtmgmt');
 *   await conn.close();
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, hasDetail, HostnetError } from '../errors.js';

/** libvirt's virErrorNumber values hostnetd looks at (virterror.h). */
export const VirErr = {
  INTERNAL_ERROR: 1,
  NO_SUPPORT: 3,
  NO_CONNECT: 5,
  INVALID_CONN: 6,
  INVALID_ARG: 8,
  OPERATION_FAILED: 9,
  XML_ERROR: 27,
  XML_DETAIL: 35,
  NETWORK_EXIST: 37,
  SYSTEM_ERROR: 38,
  RPC: 39,
  NO_DOMAIN: 42,
  NO_NETWORK: 43,
  NO_NWFILTER: 62,
  OPERATION_INVALID: 55,
  CONFIG_UNSUPPORTED: 67,
  OPERATION_UNSUPPORTED: 84,
} as const;

/** What a failed libvirt call carries: libvirt's own error code (virErrorNumber) and domain (virErrorDomain). */
export interface LibvirtFailure {
  kind: 'libvirt';
  virErr: number;
  domain: number;
}

/** A libvirt call failed (LIBVIRT_FAILED); the message is libvirt's. */
export const libvirtError = (virErr: number, domain: number, message: string, cause?: unknown): HostnetError<LibvirtFailure> =>
  new HostnetError(ErrorCode.LIBVIRT_FAILED, message, { cause, detail: { kind: 'libvirt', virErr, domain } });

export const isLibvirtError = (e: unknown): e is HostnetError<LibvirtFailure> & { detail: LibvirtFailure } => hasDetail<LibvirtFailure>(e, 'libvirt');

/** The connection is gone (libvirtd stopped or restarted, or we closed it). */
export function connectionLost(e: unknown): boolean {
  if (!isLibvirtError(e)) return false;
  const code = e.detail.virErr;
  return code === VirErr.NO_CONNECT || code === VirErr.INVALID_CONN || code === VirErr.RPC ||
    code === VirErr.SYSTEM_ERROR && /connect|socket|broken pipe|end of file/i.test(e.message);
}

/** The addon could not be loaded (LIBVIRT_UNAVAILABLE): hostnetd runs without libvirt. */
export const libvirtUnavailable = (reason: string, cause?: unknown): HostnetError<{ kind: 'libvirt-unavailable'; reason: string }> =>
  new HostnetError(ErrorCode.LIBVIRT_UNAVAILABLE, `libvirt addon missing: ${reason}`, { cause, detail: { kind: 'libvirt-unavailable', reason } });

export interface NetworkInfo {
  name: string;
  uuid: string;
  active: boolean;
  persistent: boolean;
  autostart: boolean;
}

export interface NwFilterInfo {
  name: string;
  uuid: string;
}

export interface DomainInfo {
  name: string;
  uuid: string;
  /** -1 when not running */
  id: number;
  active: boolean;
}

const NETWORK_EVENTS = ['defined', 'undefined', 'started', 'stopped'] as const;
const DOMAIN_EVENTS = [
  'defined', 'undefined', 'started', 'suspended', 'resumed', 'stopped', 'shutdown', 'pmsuspended', 'crashed',
] as const;
const CLOSE_REASONS = ['error', 'eof', 'keepalive', 'client'] as const;

export type LibvirtEvent =
  | { type: 'network-lifecycle'; name: string; uuid: string; event: (typeof NETWORK_EVENTS)[number] | 'unknown'; detail: number }
  | { type: 'domain-lifecycle'; name: string; uuid: string; event: (typeof DOMAIN_EVENTS)[number] | 'unknown'; detail: number }
  | { type: 'domain-device-added' | 'domain-device-removed'; name: string; uuid: string; device: string }
  /** the connection died (libvirtd went away); open a new one */
  | { type: 'closed'; reason: (typeof CLOSE_REASONS)[number] | 'unknown' };

export type EventKind = LibvirtEvent['type'];

/** The raw addon surface (see native/libvirt_addon.cc). */
interface RawEvent {
  type: string;
  name?: string;
  uuid?: string;
  event: number;
  detail: number;
  device?: string;
}
type Handle = object;
interface Addon {
  open(uri: string, onEvent?: (ev: RawEvent) => void): { handle: Handle; ready: Promise<string[]> };
  close(h: Handle): Promise<void>;
  isAlive(h: Handle): Promise<boolean>;
  getUri(h: Handle): Promise<string>;
  networkDefine(h: Handle, xml: string): Promise<NetworkInfo>;
  networkCreate(h: Handle, name: string): Promise<void>;
  networkDestroy(h: Handle, name: string): Promise<void>;
  networkUndefine(h: Handle, name: string): Promise<void>;
  networkGetXml(h: Handle, name: string, flags: number): Promise<string>;
  networkLookup(h: Handle, name: string): Promise<NetworkInfo>;
  networkIsActive(h: Handle, name: string): Promise<boolean>;
  networkSetAutostart(h: Handle, name: string, on: boolean): Promise<void>;
  networkGetAutostart(h: Handle, name: string): Promise<boolean>;
  networkList(h: Handle): Promise<NetworkInfo[]>;
  networkListXml(h: Handle, prefix: string, flags: number): Promise<(NetworkInfo & { xml: string })[]>;
  domainListActive(h: Handle): Promise<DomainInfo[]>;
  domainListActiveXml(h: Handle, flags: number): Promise<(DomainInfo & { xml: string })[]>;
  domainLookup(h: Handle, key: string, byUuid: boolean): Promise<DomainInfo>;
  domainGetXml(h: Handle, key: string, byUuid: boolean, flags: number): Promise<string>;
  nwfilterGetXml(h: Handle, name: string): Promise<string>;
  nwfilterDefine(h: Handle, xml: string): Promise<NwFilterInfo>;
  nwfilterUndefine(h: Handle, name: string): Promise<void>;
  nwfilterList(h: Handle): Promise<NwFilterInfo[]>;
  version(): number;
  eventLoop: boolean;
}

const VIR_NETWORK_XML_INACTIVE = 1;
const VIR_DOMAIN_XML_INACTIVE = 2;

/** build/Release/hostnet_libvirt.node from the project root; src/libvirt and dist/libvirt are both two levels down. */
export const defaultAddonPath = () =>
  process.env.HOSTNETD_LIBVIRT_ADDON ??
  resolve(dirname(fileURLToPath(import.meta.url)), '../../build/Release/hostnet_libvirt.node');

type LoadResult = { addon: Addon } | { error: ReturnType<typeof libvirtUnavailable> };
let loaded: LoadResult | undefined;

function tryLoad(path: string): LoadResult {
  try {
    const addon = createRequire(import.meta.url)(path) as Addon;
    return addon.eventLoop ? { addon } : { error: libvirtUnavailable('libvirt event loop could not be registered') };
  } catch (e) {
    return { error: libvirtUnavailable(`${path}: ${(e as Error).message.split('\n')[0]}`, e) };
  }
}

/** Load the addon (once, from the default path; an explicit path is not cached). Never throws. */
export function loadAddon(path?: string): LoadResult {
  if (path !== undefined) return tryLoad(path);
  loaded ??= tryLoad(defaultAddonPath());
  return loaded;
}

/** Whether the addon loads here, and libvirt's version (major*1e6+minor*1e3+micro). */
export function addonStatus(): { available: true; libvirtVersion: number } | { available: false; reason: string } {
  const l = loadAddon();
  return 'addon' in l ? { available: true, libvirtVersion: l.addon.version() } : { available: false, reason: l.error.detail!.reason };
}

function toLibvirtError(e: unknown): unknown {
  if (e instanceof Error && typeof (e as { libvirtCode?: unknown }).libvirtCode === 'number') {
    const x = e as Error & { libvirtCode: number; libvirtDomain: number };
    return libvirtError(x.libvirtCode, x.libvirtDomain, x.message, e);
  }
  return e;
}

async function call<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (e) {
    throw toLibvirtError(e);
  }
}

function toEvent(raw: RawEvent): LibvirtEvent | undefined {
  const name = raw.name ?? '';
  const uuid = raw.uuid ?? '';
  switch (raw.type) {
    case 'network-lifecycle':
      return { type: raw.type, name, uuid, event: NETWORK_EVENTS[raw.event] ?? 'unknown', detail: raw.detail };
    case 'domain-lifecycle':
      return { type: raw.type, name, uuid, event: DOMAIN_EVENTS[raw.event] ?? 'unknown', detail: raw.detail };
    case 'domain-device-added':
    case 'domain-device-removed':
      return { type: raw.type, name, uuid, device: raw.device ?? '' };
    case 'closed':
      return { type: 'closed', reason: CLOSE_REASONS[raw.event] ?? 'unknown' };
    default:
      return undefined;
  }
}

export class LibvirtConnection {
  private listeners = new Set<(ev: LibvirtEvent) => void>();
  private closedFlag = false;

  private constructor(
    private readonly addon: Addon,
    private readonly handle: Handle,
    readonly uri: string,
    /** event kinds this driver accepted registrations for */
    readonly eventKinds: readonly EventKind[],
  ) {}

  /**
   * Open a connection. Rejects with libvirtUnavailable() when the addon is missing, libvirtError()
   * when libvirt refuses (e.g. libvirtd not running: code NO_CONNECT or SYSTEM_ERROR).
   */
  static async open(uri: string): Promise<LibvirtConnection> {
    const l = loadAddon();
    if ('error' in l) throw l.error;
    let conn: LibvirtConnection | undefined;
    const early: LibvirtEvent[] = [];
    const { handle, ready } = l.addon.open(uri, (raw) => {
      const ev = toEvent(raw);
      if (!ev) return;
      if (conn) conn.emit(ev);
      else early.push(ev);
    });
    const kinds = (await call(() => ready)) as EventKind[];
    conn = new LibvirtConnection(l.addon, handle, uri, kinds);
    for (const ev of early) conn.emit(ev);
    return conn;
  }

  private emit(ev: LibvirtEvent) {
    if (ev.type === 'closed') this.closedFlag = true;
    for (const fn of this.listeners) {
      try {
        fn(ev);
      } catch {
        // a listener's bug must not stop the others
      }
    }
  }

  /** Subscribe to events; returns the unsubscribe function. */
  onEvent(fn: (ev: LibvirtEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** true after close() or after libvirt reported the connection dead */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** Close; safe while calls are in flight (they finish on their own reference). Idempotent. */
  async close(): Promise<void> {
    this.closedFlag = true;
    this.listeners.clear();
    await call(() => this.addon.close(this.handle));
  }

  isAlive(): Promise<boolean> {
    return call(() => this.addon.isAlive(this.handle));
  }

  defineNetwork(xml: string): Promise<NetworkInfo> {
    return call(() => this.addon.networkDefine(this.handle, xml));
  }

  startNetwork(name: string): Promise<void> {
    return call(() => this.addon.networkCreate(this.handle, name));
  }

  destroyNetwork(name: string): Promise<void> {
    return call(() => this.addon.networkDestroy(this.handle, name));
  }

  undefineNetwork(name: string): Promise<void> {
    return call(() => this.addon.networkUndefine(this.handle, name));
  }

  /** `inactive`: the persistent definition rather than the running one */
  networkXml(name: string, opts: { inactive?: boolean } = {}): Promise<string> {
    return call(() => this.addon.networkGetXml(this.handle, name, opts.inactive ? VIR_NETWORK_XML_INACTIVE : 0));
  }

  lookupNetwork(name: string): Promise<NetworkInfo> {
    return call(() => this.addon.networkLookup(this.handle, name));
  }

  /** lookupNetwork, but null when there is no such network */
  async findNetwork(name: string): Promise<NetworkInfo | null> {
    try {
      return await this.lookupNetwork(name);
    } catch (e) {
      if (isLibvirtError(e) && e.detail.virErr === VirErr.NO_NETWORK) return null;
      throw e;
    }
  }

  isNetworkActive(name: string): Promise<boolean> {
    return call(() => this.addon.networkIsActive(this.handle, name));
  }

  setNetworkAutostart(name: string, on: boolean): Promise<void> {
    return call(() => this.addon.networkSetAutostart(this.handle, name, on));
  }

  getNetworkAutostart(name: string): Promise<boolean> {
    return call(() => this.addon.networkGetAutostart(this.handle, name));
  }

  /** all networks, active and inactive, persistent and transient */
  listNetworks(): Promise<NetworkInfo[]> {
    return call(() => this.addon.networkList(this.handle));
  }

  /**
   * The networks named prefix* with their XML, in one job on one pool thread. `inactive`: the
   * persistent definition (a driver without that flag, such as the test driver, gives the live one).
   */
  listNetworksWithXml(prefix: string, opts: { inactive?: boolean } = {}): Promise<(NetworkInfo & { xml: string })[]> {
    return call(() => this.addon.networkListXml(this.handle, prefix, opts.inactive ? VIR_NETWORK_XML_INACTIVE : 0));
  }

  /** the network filter's XML, or null when libvirt has no filter of that name */
  async nwfilterXml(name: string): Promise<string | null> {
    try {
      return await call(() => this.addon.nwfilterGetXml(this.handle, name));
    } catch (e) {
      if (isLibvirtError(e) && e.detail.virErr === VirErr.NO_NWFILTER) return null;
      throw e;
    }
  }

  /** define (or, with the existing filter's UUID in the XML, replace) a network filter */
  defineNwfilter(xml: string): Promise<NwFilterInfo> {
    return call(() => this.addon.nwfilterDefine(this.handle, xml));
  }

  undefineNwfilter(name: string): Promise<void> {
    return call(() => this.addon.nwfilterUndefine(this.handle, name));
  }

  /** every network filter, libvirt's own included */
  listNwfilters(): Promise<NwFilterInfo[]> {
    return call(() => this.addon.nwfilterList(this.handle));
  }

  listActiveDomains(): Promise<DomainInfo[]> {
    return call(() => this.addon.domainListActive(this.handle));
  }

  /**
   * Every running domain with its XML, read in one job on one pool thread (not one job per
   * domain at once: the pool also serves the journal's fsyncs). A domain that stopped between
   * the list and its read is left out.
   */
  listActiveDomainsWithXml(opts: { inactive?: boolean } = {}): Promise<(DomainInfo & { xml: string })[]> {
    return call(() => this.addon.domainListActiveXml(this.handle, opts.inactive ? VIR_DOMAIN_XML_INACTIVE : 0));
  }

  lookupDomainByName(name: string): Promise<DomainInfo> {
    return call(() => this.addon.domainLookup(this.handle, name, false));
  }

  lookupDomainByUuid(uuid: string): Promise<DomainInfo> {
    return call(() => this.addon.domainLookup(this.handle, uuid, true));
  }

  domainXml(key: { name: string } | { uuid: string }, opts: { inactive?: boolean } = {}): Promise<string> {
    const byUuid = 'uuid' in key;
    const k = 'uuid' in key ? key.uuid : key.name;
    return call(() => this.addon.domainGetXml(this.handle, k, byUuid, opts.inactive ? VIR_DOMAIN_XML_INACTIVE : 0));
  }
}
