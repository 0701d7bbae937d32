/**
 * Guest MACs per bridge port, read from libvirt: for every running domain, each <interface>
 * whose <target dev='X'/> is a tap gives X → its <mac address>. The port agent asks for the
 * whole map at each reconcile, and is told when a domain starts, resumes or gets a device
 * (a new tap, or a tap whose guest we could not name yet).
 *
 * A user of the daemon's one LibvirtSession, with its own lane: reading domains never queues
 * behind a network sync. All running domains and their XML come in one libvirt job (one pool
 * thread, however many guests). While libvirt is unreachable the last map
 * read is answered (a guest port would otherwise flip back to learning on at every hiccup);
 * with --libvirt-uri none, or no addon, the map is empty and every guest port keeps learning.
 */
import { DOMParser, type Element } from '@xmldom/xmldom';
import type { Logger } from 'pino';
import type { LibvirtSession } from '../libvirt/session.js';
import type { Lane } from '../model/concurrency.js';

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
  /** the daemon's libvirt connection (shared with the network manager) */
  session: LibvirtSession;
  log: Logger;
}

/** Domain events that can change which guest sits behind which tap. */
const RELEVANT = new Set(['started', 'resumed', 'defined', 'stopped', 'suspended', 'crashed', 'shutdown']);

export class LibvirtGuestMacs implements GuestMacSource {
  private last = new Map<string, string[]>();
  private listeners = new Set<() => void>();
  /** this reader's calls, one at a time, beside the network manager's */
  private readonly lane: Lane;
  /** the read in progress: callers meanwhile share it rather than queue more behind a slow libvirtd */
  private reading: Promise<Map<string, string[]>> | undefined;
  private offs: (() => void)[] = [];

  constructor(private readonly opts: LibvirtGuestMacsOptions) {
    this.lane = opts.session.lane();
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Listens to the session (which its owner starts): guests may have changed while libvirt was away. */
  async start(): Promise<void> {
    const { session } = this.opts;
    this.offs.push(
      session.onConnected(() => this.emit()),
      session.onEvent((ev) => {
        if (ev.type === 'domain-device-added' || ev.type === 'domain-device-removed') this.emit();
        else if (ev.type === 'domain-lifecycle' && RELEVANT.has(ev.event)) this.emit();
      }),
    );
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
  }

  macs(): Promise<Map<string, string[]>> {
    this.reading ??= this.lane.run(() => this.read()).finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async read(): Promise<Map<string, string[]>> {
    const conn = this.opts.session.connection;
    if (!conn) return this.last;
    try {
      const domains = await conn.listActiveDomainsWithXml();
      this.last = macsByPort(domains.map((d) => d.xml));
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'could not read guest interfaces from libvirt; using the last known');
      this.opts.session.lost(e);
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
}
