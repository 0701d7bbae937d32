/**
 * VDSM's MAC anti-spoofing network filter, kept defined in libvirt. Engine-built domain XML puts
 * `<filterref filter='vdsm-no-mac-spoofing'/>` on every vNIC of a network with MAC spoofing
 * protection; on a host where libvirt lacks that filter such a guest does not start. VDSM's
 * `vdsm-tool nwfilter` defines it at boot; hostnetd defines it when its libvirt session connects
 * (at start and after every reconnect), when it is missing or differs from VDSM's definition:
 *
 *   <filter name='vdsm-no-mac-spoofing' chain='root'>
 *     <filterref filter='no-mac-spoofing'/>       (libvirt's built-in: source MAC = the vNIC's)
 *     <filterref filter='no-arp-mac-spoofing'/>   (ARP sender MAC = the vNIC's)
 *   </filter>
 *
 * A redefinition keeps the filter's UUID (libvirt refuses a new UUID for an existing name, and
 * running guests keep their bindings). No other filter is ever touched.
 *
 * Pure core: filterXml(), sameFilter(). Shell: NwFilterKeeper, a user of the daemon's session.
 */
import { DOMParser } from '@xmldom/xmldom';
import type { Logger } from 'pino';
import type { LibvirtConnection } from './binding.js';
import type { LibvirtSession } from './session.js';
import type { Lane } from '../model/concurrency.js';

export const NO_MAC_SPOOFING = 'vdsm-no-mac-spoofing';
/** the filter's chain and the libvirt built-in filters it references, in order (VDSM's nwfilter.py) */
const CHAIN = 'root';
const REFS = ['no-mac-spoofing', 'no-arp-mac-spoofing'] as const;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** VDSM's definition, with the UUID of the filter it replaces (if any). */
export function filterXml(uuid?: string): string {
  if (uuid !== undefined && !UUID_RE.test(uuid)) throw new Error(`not a UUID: ${uuid}`);
  return [
    `<filter name='${NO_MAC_SPOOFING}' chain='${CHAIN}'>`,
    ...(uuid !== undefined ? [`  <uuid>${uuid}</uuid>`] : []),
    ...REFS.map((f) => `  <filterref filter='${f}'/>`),
    '</filter>',
    '',
  ].join('\n');
}

export interface FilterView {
  uuid?: string;
  /** what libvirt has matches VDSM's definition (name, chain, the two references in order, nothing else) */
  same: boolean;
}

/** Reads libvirt's XML of the filter: its UUID and whether it is VDSM's definition. */
export function readFilter(xml: string): FilterView {
  const doc = new DOMParser({ onError: () => undefined }).parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  if (!root || root.nodeName !== 'filter') return { same: false };
  let uuid: string | undefined;
  const refs: string[] = [];
  let other = false;
  for (let n = root.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== 1) continue;
    const el = n as unknown as Element;
    if (el.nodeName === 'uuid') uuid = (el.textContent ?? '').trim();
    // a filterref with parameters is a different filter
    else if (el.nodeName === 'filterref' && !hasElementChild(el)) {
      refs.push(el.getAttribute('filter') ?? '');
    } else other = true;
  }
  const chain = root.getAttribute('chain') || 'root';
  const same = root.getAttribute('name') === NO_MAC_SPOOFING && chain === CHAIN && !other &&
    refs.length === REFS.length && REFS.every((r, i) => refs[i] === r);
  return uuid !== undefined && UUID_RE.test(uuid) ? { uuid, same } : { same };
}

function hasElementChild(el: Element): boolean {
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1) return true;
  return false;
}

export type FilterState = 'defined' | 'pending' | 'failed';

/**
 * Keeps the filter defined whenever the session connects. `status()` is what capabilities show:
 * the filters hostnetd keeps and their state (pending while libvirt is away).
 */
export class NwFilterKeeper {
  private readonly lane: Lane;
  private state: FilterState = 'pending';
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: { session: LibvirtSession; log: Logger }) {
    this.lane = opts.session.lane();
  }

  /** Subscribe before session.start(): its first connection then defines the filter before start resolves. */
  start(): void {
    this.unsubscribe = this.opts.session.onConnected((conn) => this.lane.run(() => this.ensure(conn)));
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /** filter name → state; names only of filters hostnetd keeps */
  status(): Record<string, FilterState> {
    return { [NO_MAC_SPOOFING]: this.opts.session.connected ? this.state : 'pending' };
  }

  /** Define the filter when missing or different. Never throws: a failure is logged and shown in status(). */
  async ensure(conn: LibvirtConnection): Promise<void> {
    const log = this.opts.log;
    try {
      const xml = await conn.nwfilterXml(NO_MAC_SPOOFING);
      const view = xml === null ? undefined : readFilter(xml);
      if (view?.same) {
        this.state = 'defined';
        log.debug({ filter: NO_MAC_SPOOFING }, 'nwfilter already as VDSM defines it');
        return;
      }
      await conn.defineNwfilter(filterXml(view?.uuid));
      this.state = 'defined';
      log.info({ event: 'nwfilter-defined', filter: NO_MAC_SPOOFING, replaced: view !== undefined }, 'nwfilter defined');
    } catch (e) {
      if (this.opts.session.lost(e)) {
        this.state = 'pending';
        return;
      }
      this.state = 'failed';
      log.error({ event: 'nwfilter-failed', filter: NO_MAC_SPOOFING, err: (e as Error).message },
        'could not define the nwfilter (is the nwfilter driver installed? see scripts/setup-deps.sh)');
    }
  }
}
