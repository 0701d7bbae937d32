/**
 * One libvirt network per bridged hostnetd network, kept in step with the running config.
 *
 * For hostnetd network 'ovirtmgmt' (portIsolation on, kernel with vlan_filtering):
 *   <network>
 *     <name>vdsm-ovirtmgmt</name>
 *     <forward mode='bridge'/>
 *     <bridge name='ovirtmgmt' macTableManager='libvirt'/>
 *     <port isolated='yes'/>
 *   </network>
 * (the name VDSM used, so engine-built domain XML with <source network='vdsm-X'/> works). On a
 * kernel without bridge vlan_filtering libvirt cannot start a macTableManager='libvirt' network,
 * so the attribute is left out and the port agent applies the MAC-table policy alone. There is no
 * <mtu>: libvirt refuses it for forward mode bridge (the kernel bridge's MTU, which hostnetd sets,
 * is what the guests' taps get).
 *
 * Pure core: buildNetworkXml() and plan() (desired + current → steps). Imperative shell:
 * LibvirtNetworkManager (a user of the daemon's LibvirtSession: apply/undo, pending while away).
 * Only networks named vdsm-* are ever touched.
 */
import type { Logger } from 'pino';
import type { LibvirtStatus } from '../model/libvirt-status.js';
import { ErrorCode, HostnetError } from '../errors.js';
import type { HostConfig, MacTableManager } from '../model/types.js';
import type { LibvirtConnection, NetworkInfo } from './binding.js';
import type { LibvirtSession } from './session.js';
import type { Lane } from '../model/concurrency.js';
import { child, readNetworkRoot, serializeNetworkXml, type NetworkDef } from './network-xml.js';
import { dict } from '../model/dict.js';

export const LIBVIRT_PREFIX = 'vdsm-';
export const libvirtNameOf = (network: string) => `${LIBVIRT_PREFIX}${network}`;
export const isOwned = (libvirtName: string) => libvirtName.startsWith(LIBVIRT_PREFIX);

/** What setupNetworks owes libvirt for one bridged network. */
export interface DesiredLibvirtNetwork {
  /** hostnetd network name = kernel bridge name */
  name: string;
  portIsolation: boolean;
  macTableManager: MacTableManager;
}

/** The libvirt networks a running config owes: one per bridged network. */
export function desiredFromConfig(config: HostConfig): DesiredLibvirtNetwork[] {
  return Object.values(config.networks)
    .filter((n) => n.bridged)
    .map((n) => ({ name: n.name, portIsolation: n.portIsolation, macTableManager: n.macTableManager }));
}

/** A libvirt network as read from libvirt (its persistent definition). */
export interface CurrentLibvirtNetwork {
  name: string;
  uuid: string;
  active: boolean;
  autostart: boolean;
  persistent: boolean;
  /** persistent definition XML (VIR_NETWORK_XML_INACTIVE) */
  xml: string;
}

export type Step =
  | { op: 'define'; network: string; xml: string }
  | { op: 'start'; network: string }
  | { op: 'autostart'; network: string; on: boolean }
  | { op: 'destroy'; network: string }
  | { op: 'undefine'; network: string };

export interface PlanOptions {
  /** the kernel has bridge vlan_filtering (macTableManager may be written) */
  vlanFiltering: boolean;
}

// ---------------------------------------------------------------------------------------------
// pure core

export function networkDefOf(net: DesiredLibvirtNetwork, opts: PlanOptions, uuid?: string): NetworkDef {
  const def: NetworkDef = {
    name: libvirtNameOf(net.name),
    forward: { mode: 'bridge', pfs: [], interfaces: [], addresses: [] },
    bridge: opts.vlanFiltering ? { name: net.name, macTableManager: net.macTableManager } : { name: net.name },
    ips: [],
    routes: [],
    portgroups: [],
    namespaces: [],
    extra: [],
  };
  if (uuid) def.uuid = uuid;
  if (net.portIsolation) def.port = { isolated: true };
  return def;
}

export const buildNetworkXml = (net: DesiredLibvirtNetwork, opts: PlanOptions, uuid?: string) =>
  serializeNetworkXml(networkDefOf(net, opts, uuid));

/** What hostnetd owns in a vdsm-<net> network; everything else in its XML is someone else's. */
export interface OwnedParts {
  forwardMode: string | undefined;
  bridge: string | undefined;
  macTableManager: string | undefined;
  isolated: boolean;
}

/**
 * The owned parts of a network XML, read leniently: an element the strict parser would refuse
 * (an admin's <dns> records, a newer libvirt's element) is not ours to judge and must not make
 * the network count as changed, since a change means destroy, define and start (its guests lose
 * their ports' libvirt state). undefined only when the text is not a <network> document.
 */
export function ownedPartsOf(xml: string): OwnedParts | undefined {
  const root = readNetworkRoot(xml);
  if (!root) return undefined;
  const forward = child(root, 'forward');
  const bridge = child(root, 'bridge');
  return {
    forwardMode: forward ? (forward.getAttribute('mode') || 'nat') : undefined,
    bridge: bridge?.getAttribute('name') || undefined,
    macTableManager: bridge?.getAttribute('macTableManager') || undefined,
    isolated: child(root, 'port')?.getAttribute('isolated') === 'yes',
  };
}

const ownedPartsOfDef = (def: NetworkDef): OwnedParts => ({
  forwardMode: def.forward?.mode,
  bridge: def.bridge?.name,
  macTableManager: def.bridge?.macTableManager,
  isolated: def.port?.isolated ?? false,
});

function sameOwnedParts(currentXml: string, want: NetworkDef): boolean {
  const cur = ownedPartsOf(currentXml);
  const w = ownedPartsOfDef(want);
  return cur !== undefined && cur.forwardMode === w.forwardMode && cur.bridge === w.bridge &&
    cur.macTableManager === w.macTableManager && cur.isolated === w.isolated;
}

/**
 * desired + current → the steps that bring libvirt in step. Networks not named vdsm-* are
 * ignored; a vdsm-* network no desired network maps to is removed.
 */
export function plan(
  desired: readonly DesiredLibvirtNetwork[],
  current: readonly CurrentLibvirtNetwork[],
  opts: PlanOptions,
): Step[] {
  const steps: Step[] = [];
  const byName = new Map(current.filter((c) => isOwned(c.name)).map((c) => [c.name, c]));
  const wanted = new Set<string>();
  for (const net of [...desired].sort((a, b) => a.name.localeCompare(b.name))) {
    const name = libvirtNameOf(net.name);
    wanted.add(name);
    const cur = byName.get(name);
    const want = networkDefOf(net, opts, cur?.uuid);
    if (!cur) {
      steps.push({ op: 'define', network: name, xml: serializeNetworkXml(want) });
      steps.push({ op: 'start', network: name });
      steps.push({ op: 'autostart', network: name, on: true });
      continue;
    }
    const changed = !cur.persistent || !sameOwnedParts(cur.xml, want);
    if (changed) {
      // a running network keeps its old definition until restarted
      if (cur.active) steps.push({ op: 'destroy', network: name });
      steps.push({ op: 'define', network: name, xml: serializeNetworkXml(want) });
    }
    if (changed || !cur.active) steps.push({ op: 'start', network: name });
    if (!cur.autostart) steps.push({ op: 'autostart', network: name, on: true });
  }
  for (const cur of [...byName.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (wanted.has(cur.name)) continue;
    if (cur.active) steps.push({ op: 'destroy', network: cur.name });
    if (cur.persistent) steps.push({ op: 'undefine', network: cur.name });
  }
  return steps;
}

/** The step that undoes `step`, given the network's state before it ran. */
export function undoOf(step: Step, before: CurrentLibvirtNetwork | undefined): Step[] {
  switch (step.op) {
    case 'define':
      return before?.persistent ? [{ op: 'define', network: step.network, xml: before.xml }] : [{ op: 'undefine', network: step.network }];
    case 'start':
      return [{ op: 'destroy', network: step.network }];
    case 'destroy':
      return [{ op: 'start', network: step.network }];
    case 'autostart':
      return [{ op: 'autostart', network: step.network, on: before?.autostart ?? false }];
    case 'undefine':
      return before
        ? [{ op: 'define', network: step.network, xml: before.xml }, ...(before.autostart ? [{ op: 'autostart' as const, network: step.network, on: true }] : [])]
        : [];
  }
}

// ---------------------------------------------------------------------------------------------
// imperative shell

/**
 * A libvirt failure while libvirt was reachable (LIBVIRT_FAILED): setupNetworks fails and rolls
 * back. `leftover`: undo steps that could not be run (empty when libvirt was rolled back cleanly).
 */
function libvirtApplyError(step: Step, cause: unknown, leftover: Step[]): HostnetError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new HostnetError(ErrorCode.LIBVIRT_FAILED, `libvirt ${step.op} of network ${step.network} failed: ${why}`, { cause, data: { step, leftover } });
}

export interface ManagerOptions {
  /** the daemon's libvirt connection (shared with the guest-MAC reader) */
  session: LibvirtSession;
  log: Logger;
  /** whether the kernel supports bridge vlan_filtering (used when bringing pending networks in step) */
  vlanFiltering: boolean;
}

export interface SyncResult {
  /** false: libvirt unreachable, the networks are pending and will be synced on reconnect */
  applied: boolean;
  steps: Step[];
  /** run with rollback() to undo this sync (if a later stage of the transaction fails) */
  undo: Step[];
}

export class LibvirtNetworkManager {
  private desired: DesiredLibvirtNetwork[] | undefined;
  private pending = new Set<string>();
  private known: Map<string, NetworkInfo> = new Map();
  /** this manager's calls, one at a time, beside the guest-MAC reader's */
  private readonly lane: Lane;
  private readonly session: LibvirtSession;
  private vlanFiltering: boolean;
  private offs: (() => void)[] = [];

  constructor(private readonly opts: ManagerOptions) {
    this.session = opts.session;
    this.lane = opts.session.lane();
    this.vlanFiltering = opts.vlanFiltering;
    this.offs.push(
      this.session.onConnected((conn) => this.lane.run(() => this.caughtUp(conn))),
      this.session.onEvent((ev) => {
        if (ev.type === 'network-lifecycle' && isOwned(ev.name)) void this.lane.run(() => this.refreshCurrent()).catch(() => undefined);
      }),
    );
  }

  get uri(): string {
    return this.session.uri;
  }

  get connected(): boolean {
    return this.session.connected;
  }

  /** Stops listening to the session (which its owner stops). */
  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
  }

  status(): LibvirtStatus {
    const networks = dict<{ name: string; active: boolean } | null>();
    for (const net of this.desired ?? []) {
      const info = this.known.get(libvirtNameOf(net.name));
      networks[net.name] = info ? { name: info.name, active: info.active } : null;
    }
    const s: LibvirtStatus = { uri: this.session.uri, connected: this.connected, networks };
    if (this.pending.size > 0) s.pending = [...this.pending].sort();
    return s;
  }

  /**
   * Bring libvirt in step with `desired` (the full set of bridged networks of the new running
   * config). Unreachable libvirt: records them as pending and resolves { applied: false }.
   * A libvirt error while reachable: rolls its own steps back and rejects with a LIBVIRT_FAILED HostnetError.
   */
  sync(desired: readonly DesiredLibvirtNetwork[], vlanFiltering = this.vlanFiltering): Promise<SyncResult> {
    return this.lane.run(() => this.syncNow([...desired], vlanFiltering));
  }

  /** Undo a sync (the transaction failed after it). Best effort; returns the steps that failed. */
  rollback(undo: readonly Step[], previousDesired?: readonly DesiredLibvirtNetwork[]): Promise<Step[]> {
    return this.lane.run(async () => {
      if (previousDesired) this.desired = [...previousDesired];
      const conn = this.session.connection;
      if (!conn) {
        // nothing was applied while away; what we owe is the previous desired set
        return [];
      }
      const failed = await this.runUndo(conn, [...undo]);
      await this.refresh(conn).catch(() => undefined);
      return failed;
    });
  }

  // ---- internals

  /** After a (re)connection: what libvirt has, then whatever was owed while it was away. */
  private async caughtUp(conn: LibvirtConnection): Promise<void> {
    await this.refresh(conn).catch(() => undefined);
    if (this.pending.size === 0 || !this.desired) return;
    try {
      const r = await this.syncNow(this.desired, this.vlanFiltering);
      this.opts.log.info({ steps: r.steps.length }, 'libvirt: pending networks brought in step');
    } catch (e) {
      this.opts.log.error({ err: (e as Error).message }, 'libvirt: bringing pending networks in step failed; still pending');
    }
  }

  private async refreshCurrent(): Promise<void> {
    const conn = this.session.connection;
    if (conn) await this.refresh(conn);
  }

  private markPending(desired: readonly DesiredLibvirtNetwork[]) {
    for (const n of desired) this.pending.add(n.name);
    // owned networks libvirt still has but the new config drops are owed too
    for (const name of this.known.keys()) {
      if (isOwned(name) && !desired.some((d) => libvirtNameOf(d.name) === name)) this.pending.add(name.slice(LIBVIRT_PREFIX.length));
    }
  }

  private async syncNow(desired: DesiredLibvirtNetwork[], vlanFiltering: boolean): Promise<SyncResult> {
    this.desired = desired;
    this.vlanFiltering = vlanFiltering;
    const conn = this.session.connection;
    if (!conn) {
      this.markPending(desired);
      return { applied: false, steps: [], undo: [] };
    }
    let current: CurrentLibvirtNetwork[];
    try {
      current = await readCurrent(conn);
    } catch (e) {
      if (this.session.lost(e)) {
        this.markPending(desired);
        return { applied: false, steps: [], undo: [] };
      }
      throw e;
    }
    const steps = plan(desired, current, { vlanFiltering });
    const undo = await this.apply(conn, steps, current);
    this.pending.clear();
    await this.refresh(conn).catch(() => undefined);
    return { applied: true, steps, undo };
  }

  /** Run steps in order; on failure undo what ran and throw. Returns the undo list (reverse order). */
  async apply(conn: LibvirtConnection, steps: readonly Step[], current: readonly CurrentLibvirtNetwork[]): Promise<Step[]> {
    const before = new Map(current.map((c) => [c.name, c]));
    const undo: Step[] = [];
    for (const step of steps) {
      try {
        await runStep(conn, step);
      } catch (e) {
        if (this.session.lost(e)) this.opts.log.warn({ step }, 'libvirt connection lost during apply');
        const leftover = await this.runUndo(conn, undo);
        throw libvirtApplyError(step, e, leftover);
      }
      undo.unshift(...undoOf(step, before.get(step.network)));
      this.opts.log.info({ op: step.op, network: step.network }, 'libvirt network step');
    }
    return undo;
  }

  private async runUndo(conn: LibvirtConnection, undo: readonly Step[]): Promise<Step[]> {
    const failed: Step[] = [];
    for (const step of undo) {
      try {
        await runStep(conn, step);
      } catch (e) {
        this.opts.log.error({ step, err: (e as Error).message }, 'libvirt rollback step failed');
        failed.push(step);
      }
    }
    return failed;
  }

  private async refresh(conn: LibvirtConnection): Promise<void> {
    const list = await conn.listNetworks();
    this.known = new Map(list.filter((n) => isOwned(n.name)).map((n) => [n.name, n]));
  }
}

/** The owned networks with their persistent definitions, read in one libvirt job. */
async function readCurrent(conn: LibvirtConnection): Promise<CurrentLibvirtNetwork[]> {
  const list = await conn.listNetworksWithXml(LIBVIRT_PREFIX, { inactive: true });
  return list.map((n) => ({ name: n.name, uuid: n.uuid, active: n.active, autostart: n.autostart, persistent: n.persistent, xml: n.xml }));
}

async function runStep(conn: LibvirtConnection, step: Step): Promise<void> {
  switch (step.op) {
    case 'define':
      await conn.defineNetwork(step.xml);
      return;
    case 'start':
      await conn.startNetwork(step.network);
      return;
    case 'destroy':
      await conn.destroyNetwork(step.network);
      return;
    case 'autostart':
      await conn.setNetworkAutostart(step.network, step.on);
      return;
    case 'undefine':
      await conn.undefineNetwork(step.network);
      return;
  }
}
