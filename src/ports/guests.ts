/**
 * Guest MACs per bridge port, read from libvirt: for every running domain, each <interface>
 * whose <target dev='X'/> is a tap gives X → its <mac address>. The port agent asks for the
 * whole map at each reconcile, and is told when a domain starts, resumes or gets a device
 * (a new tap, or a tap whose guest we could not name yet).
 *
 * Own connection (not the network manager's): reading domains must not queue behind a network
 * sync, and losing one must not disturb the other. While libvirt is unreachable the last map
 * read is answered (a guest port would otherwise flip back to learning on at every hiccup);
 * with --libvirt-uri none, or no addon, the map is empty and every guest port keeps learning.
 */
import { DOMParser, type Element } from '@xmldom/xmldom';
import type { Logger } from 'pino';
import { LibvirtConnection, LibvirtUnavailable, type LibvirtEvent } from '../libvirt/binding.js';

export interface DomainInterface {
  target: string;
  mac: string;
}

/** The interfaces of one domain XML that have both a target device and a MAC (pure; never throws). */
export function domainInterfaces(xml: string): DomainInterface[] {
  let doc;
  try {
    doc = new DOMParser({ onError: () => undefined }).parseFromString(xml, 'text/xml');
  } catch {
    return [];
  }
  const out: DomainInterface[] = [];
  const devices = doc.documentElement?.getElementsByTagName('devices')[0];
  if (!devices) return out;
  for (let i = 0; i < devices.childNodes.length; i++) {
    const node = devices.childNodes[i] as Element;
    if (node.nodeType !== 1 || node.localName !== 'interface') continue;
    const target = firstChild(node, 'target')?.getAttribute('dev');
    const mac = firstChild(node, 'mac')?.getAttribute('address');
    if (target && mac) out.push({ target, mac: mac.toLowerCase() });
  }
  return out;
}

function firstChild(el: Element, name: string): Element | undefined {
  for (let i = 0; i < el.childNodes.length; i++) {
    const n = el.childNodes[i] as Element;
    if (n.nodeType === 1 && n.localName === name) return n;
  }
  return undefined;
}

/** port → MACs, from the XML of every running domain */
export function macsByPort(domainXmls: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const xml of domainXmls) {
    for (const { target, mac } of domainInterfaces(xml)) {
      const list = out.get(target);
      if (list === undefined) out.set(target, [mac]);
      else if (!list.includes(mac)) list.push(mac);
    }
  }
  return out;
}

export interface GuestMacSource {
  macs(): Promise<Map<string, string[]>>;
  onChange(fn: () => void): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface LibvirtGuestMacsOptions {
  /** libvirt URI or 'none' */
  uri: string;
  log: Logger;
  /** injectable for tests */
  connect?: (uri: string) => Promise<LibvirtConnection>;
  backoff?: { initialMs: number; maxMs: number };
}

/** Domain events that can change which guest sits behind which tap. */
const RELEVANT = new Set(['started', 'resumed', 'defined', 'stopped', 'suspended', 'crashed', 'shutdown']);

export class LibvirtGuestMacs implements GuestMacSource {
  private conn: LibvirtConnection | undefined;
  private last = new Map<string, string[]>();
  private listeners = new Set<() => void>();
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  private warned = false;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly connectFn: (uri: string) => Promise<LibvirtConnection>;

  constructor(private readonly opts: LibvirtGuestMacsOptions) {
    this.connectFn = opts.connect ?? ((uri) => LibvirtConnection.open(uri));
    this.backoff = opts.backoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.delay = this.backoff.initialMs;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async start(): Promise<void> {
    this.stopped = false;
    if (this.opts.uri === 'none') return;
    await this.tryConnect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const c = this.conn;
    this.conn = undefined;
    if (c) await c.close().catch(() => undefined);
  }

  async macs(): Promise<Map<string, string[]>> {
    const conn = this.conn;
    if (!conn || conn.closed) return this.last;
    try {
      const domains = await conn.listActiveDomains();
      const xmls = await Promise.all(domains.map((d) => conn.domainXml({ uuid: d.uuid }).catch(() => '')));
      this.last = macsByPort(xmls);
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'could not read guest interfaces from libvirt; using the last known');
      this.drop('call failed');
    }
    return this.last;
  }

  private emit(): void {
    for (const fn of this.listeners) {
      try {
        fn();
      } catch {
        // one listener's bug must not stop the others
      }
    }
  }

  private onEvent(conn: LibvirtConnection, ev: LibvirtEvent): void {
    if (conn !== this.conn) return;
    if (ev.type === 'closed') {
      this.drop(`closed (${ev.reason})`);
      return;
    }
    if (ev.type === 'domain-device-added' || ev.type === 'domain-device-removed') this.emit();
    else if (ev.type === 'domain-lifecycle' && RELEVANT.has(ev.event)) this.emit();
  }

  private drop(why: string): void {
    const c = this.conn;
    this.conn = undefined;
    if (c) {
      this.opts.log.warn({ uri: this.opts.uri, why }, 'libvirt (guest MACs) connection lost; will reconnect');
      void c.close().catch(() => undefined);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.backoff.maxMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tryConnect();
    }, wait);
    this.timer.unref();
  }

  private async tryConnect(): Promise<void> {
    if (this.stopped || this.conn) return;
    try {
      const conn = await this.connectFn(this.opts.uri);
      if (this.stopped) {
        await conn.close().catch(() => undefined);
        return;
      }
      this.conn = conn;
      this.delay = this.backoff.initialMs;
      this.warned = false;
      conn.onEvent((ev) => this.onEvent(conn, ev));
      this.opts.log.info({ uri: this.opts.uri }, 'libvirt connected for guest MACs');
      // guests may have started while we were away
      this.emit();
    } catch (e) {
      if (e instanceof LibvirtUnavailable) {
        this.opts.log.warn({ reason: e.reason }, 'libvirt addon missing: guest MACs unknown, guest ports keep learning');
        return;
      }
      if (!this.warned) this.opts.log.warn({ uri: this.opts.uri, err: (e as Error).message }, 'libvirt unreachable for guest MACs; will retry');
      this.warned = true;
      this.schedule();
    }
  }
}
