/**
 * PortAgent: keeps every port of every bridge hostnetd manages in policy (policy.ts).
 *
 * A reconcile is one snapshot (links and FDB only), at most one `bridge -batch` (FDB entries) and one `ip -batch`
 * (vlan_filtering and port flags), whatever the number of ports. It runs:
 * - at start, after the link monitor is subscribed (so nothing that happens after the
 *   snapshot goes unseen);
 * - when the daemon asks (after each setupNetworks);
 * - at once when a port joins a managed bridge (the monitor's line names its master); on a
 *   portIsolation bridge the port is first isolated by one `ip link set` of its own, so the
 *   leak window is the monitor's latency plus one ip process (a few ms), not a whole pass;
 * - debounced on any other link change (a port leaving, a flag changed behind our back);
 * - when libvirt says guests changed, and every `periodMs` as a safety net.
 * Runs never overlap: requests during a run are folded into one run after it.
 *
 * This agent is the one place that decides when its kernel work runs. A change of the daemon
 * holds it (pause) around its own kernel phases (the batch, its verification, a rollback):
 * pause() waits for the kernel work in progress (a pass's snapshot and batches, a first aid)
 * and every pass asked for meanwhile (timer, libvirt guests, the setupNetworks wrapper) waits
 * at the gate until resume(). Reading guest MACs from libvirt happens before the gate, so a slow
 * libvirtd never holds a change. The connectivity wait is not held: a VM port that appears then
 * is isolated at once.
 *
 * Usage (daemon):
 *   const agent = new PortAgent({ ipr, config: () => store.running(), guestMacs: () => guests.macs(), features, log });
 *   await agent.start();       // monitor, then a full reconcile
 *   await agent.reconcile();   // after a setupNetworks
 *   await agent.stop();
 */
import type { Logger } from 'pino';
import { isIprouteError, type Iproute } from '../kernel/iproute.js';
import { LinkMonitor, type LinkEvent } from '../kernel/monitor.js';
import { readKernelState } from '../kernel/snapshot.js';
import type { KernelView } from '../kernel/view.js';
import type { KernelFeatures, KernelState } from '../model/kernel-state.js';
import type { HostConfig } from '../model/types.js';
import { managedBridges, planPorts, type PortWarning } from './policy.js';
import { FreshCoalescer } from '../model/concurrency.js';

export interface PortAgentOptions {
  ipr: Iproute;
  /** the running config (read at each reconcile) */
  config: () => HostConfig;
  /** port → guest MACs (libvirt); asked only when a bridge has macTableManager 'libvirt' */
  guestMacs: () => Promise<ReadonlyMap<string, readonly string[]>>;
  features: KernelFeatures;
  log: Logger;
  /** safety-net period (ms, default 60000; 0 disables) */
  periodMs?: number;
  /** how long a guestMacs() answer may take before the guests count as unknown (ms, default 5000) */
  guestMacsTimeoutMs?: number;
  /** the link monitor to use (default: a LinkMonitor on ipr's namespace); false: none (tests, bench) */
  monitor?: LinkMonitor | false;
  /** the daemon's kernel view: the agent's monitor listens to it and its passes read it (default: dumps of its own) */
  view?: KernelView;
  /** told after every pass (metrics) */
  onPass?: (r: ReconcileResult) => void;
}

export interface ReconcileResult {
  /** why this run happened (every request folded into it) */
  reasons: string[];
  /** lines sent to ip -batch / bridge -batch (0: everything was in policy) */
  ipLines: number;
  bridgeLines: number;
  ports: number;
  warnings: PortWarning[];
  /** stderr of failed batch lines (a port that vanished meanwhile, ...) */
  errors: string[];
  ms: number;
}

export class PortAgent {
  private readonly monitor: LinkMonitor | undefined;
  /** a pass takes the reasons gathered until it starts */
  private readonly passes = new FreshCoalescer(() => {
    const reasons = [...this.reasons];
    this.reasons.clear();
    return this.runOnce(reasons);
  });
  private reasons = new Set<string>();
  /** ifindex → bridge, of the ports the last run put in policy */
  private known = new Map<number, string>();
  /** ifindexes already given first aid (a join shows up as several monitor lines) */
  private firstAid = new Set<number>();
  private lastWarnings = '';
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private offs: (() => void)[] = [];
  /** closed while a change of the daemon changes the kernel (see pause) */
  private gate: { open: Promise<void>; release: () => void } | undefined;
  /** kernel work of this agent in progress: a pass's snapshot and batches, first aids */
  private kernelWork = new Set<Promise<unknown>>();
  /** runs done; for tests and the benchmark */
  runs = 0;

  constructor(private readonly opts: PortAgentOptions) {
    this.monitor = opts.monitor === false
      ? undefined
      : (opts.monitor ?? new LinkMonitor({
        log: opts.log,
        ...(opts.view !== undefined ? { view: opts.view } : {}),
        ...(opts.ipr.netns !== undefined ? { netns: opts.ipr.netns } : {}),
      }));
  }

  async start(): Promise<void> {
    this.stopped = false;
    if (this.monitor) {
      this.offs.push(this.monitor.onEvent((ev) => this.onLinkEvent(ev)));
      this.offs.push(this.monitor.onChange(() => this.trigger('link-change')));
      await this.monitor.start();
    }
    await this.reconcile('start').catch((e: unknown) =>
      this.opts.log.error({ err: (e as Error).message }, 'initial port reconcile failed; retrying on the next event or period'));
    const period = this.opts.periodMs ?? 60_000;
    if (period > 0) {
      this.timer = setInterval(() => this.trigger('periodic'), period);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.openGate();
    for (const off of this.offs.splice(0)) off();
    await this.monitor?.stop();
    await this.passes.idle();
  }

  /**
   * Hold the agent while this daemon changes the kernel itself (a change's batch, verification
   * or rollback): resolves once no kernel work of the agent is in progress; passes asked for
   * from now on wait until resume(). The monitor's process ends too: thousands of events of a
   * large batch would only be parsed to be folded into one pass. Ports that join meanwhile are
   * not seen until resume(), so hold only around those phases, never around the connectivity wait.
   */
  async pause(): Promise<void> {
    if (!this.gate) {
      let release = noop;
      const open = new Promise<void>((r) => {
        release = r;
      });
      this.gate = { open, release };
    }
    await Promise.all([this.monitor?.stop(), ...[...this.kernelWork].map((w) => w.catch(noop))]);
  }

  /** Open the gate, watch again, and run one full pass for whatever happened while held. */
  async resume(): Promise<void> {
    this.openGate();
    if (this.stopped) return;
    await this.monitor?.start();
    this.trigger('resumed');
  }

  private openGate(): void {
    const g = this.gate;
    this.gate = undefined;
    g?.release();
  }

  /** Run `fn` as kernel work that pause() waits for. */
  private async asKernelWork<T>(fn: () => Promise<T>): Promise<T> {
    const work = fn();
    this.kernelWork.add(work);
    try {
      return await work;
    } finally {
      this.kernelWork.delete(work);
    }
  }

  /** Fire and forget (events); failures are logged. */
  trigger(reason: string): void {
    if (this.stopped) return;
    this.reconcile(reason).catch((e: unknown) =>
      this.opts.log.error({ err: (e as Error).message, reason }, 'port reconcile failed'));
  }

  /** One full pass; resolves when a pass that started after this call has finished. */
  reconcile(reason = 'request'): Promise<ReconcileResult> {
    this.reasons.add(reason);
    return this.passes.get();
  }

  private onLinkEvent(ev: LinkEvent): void {
    if (this.stopped) return;
    if (ev.deleted || ev.master === undefined) {
      // it left its bridge (or is gone): if it comes back, it comes back without its flags
      this.known.delete(ev.ifindex);
      this.firstAid.delete(ev.ifindex);
      return;
    }
    if (this.known.get(ev.ifindex) === ev.master) return;
    const bridge = managedBridges(this.opts.config()).find((m) => m.bridge === ev.master);
    if (bridge === undefined) return;
    // a port we have not put in policy joined a managed bridge: this is the leak window.
    // First aid: isolate it with one command (a few ms), before the full pass (a snapshot, tens of ms)
    // (not while held: a buffered line of a stopped monitor; the pass on resume settles it)
    if (bridge.portIsolation && this.opts.features.portIsolation && ev.name !== bridge.uplink && !this.firstAid.has(ev.ifindex) && !this.gate) {
      this.firstAid.add(ev.ifindex);
      void this.asKernelWork(() => this.isolateNow(ev));
    }
    this.trigger(`port-joined:${ev.name}`);
  }

  private async isolateNow(ev: LinkEvent): Promise<void> {
    const started = performance.now();
    try {
      await this.opts.ipr.ip(['link', 'set', 'dev', ev.name, 'type', 'bridge_slave', 'isolated', 'on']);
      this.opts.log.debug({ event: 'port-first-aid', port: ev.name, bridge: ev.master, ms: Math.round(performance.now() - started) }, 'new port isolated');
    } catch (e) {
      // gone or renamed meanwhile: the full pass that follows settles it
      this.opts.log.debug({ event: 'port-first-aid-failed', port: ev.name, err: (e as Error).message }, 'could not isolate a new port at once');
    }
  }

  private async runOnce(reasons: string[]): Promise<ReconcileResult> {
    // libvirt first, outside the gate: a slow libvirtd delays this pass, never a change
    const needMacs = managedBridges(this.opts.config()).some((m) => m.macTableManager === 'libvirt');
    const guestMacs = needMacs ? await this.readGuestMacs() : new Map<string, string[]>();
    if (this.gate) this.opts.log.debug({ event: 'ports-held', reasons }, 'port pass waits for a change\'s kernel work');
    while (this.gate) await this.gate.open;
    // in the same tick as the check above: a pause() from now on waits for this pass
    return this.asKernelWork(() => this.kernelPass(reasons, guestMacs));
  }

  /** Snapshot, plan, batches: the part of a pass that never overlaps a change's kernel phases. */
  private async kernelPass(reasons: string[], guestMacs: ReadonlyMap<string, readonly string[]>): Promise<ReconcileResult> {
    const started = performance.now();
    const { ipr } = this.opts;
    const config = this.opts.config();
    const state = this.opts.view ? await this.opts.view.get() : await readPortState(ipr);
    const plan = planPorts({ state, config, guestMacs, features: this.opts.features });
    const errors: string[] = [];
    // known before the batches run: the monitor's echo of our own changes is not a new port
    this.known = new Map(plan.targets.map((t) => [t.ifindex, t.bridge]));
    // entries before flags: learning goes off only once the guest's entry is in
    if (plan.bridgeLines.length > 0) await batch(() => ipr.bridge(['-force', '-batch', '-'], { input: lines(plan.bridgeLines) }), errors);
    if (plan.ipLines.length > 0) await batch(() => ipr.ip(['-force', '-batch', '-'], { input: lines(plan.ipLines) }), errors);
    this.firstAid.clear();
    this.runs++;
    const result: ReconcileResult = {
      reasons, ipLines: plan.ipLines.length, bridgeLines: plan.bridgeLines.length, ports: plan.targets.length,
      warnings: plan.warnings, errors, ms: Math.round(performance.now() - started),
    };
    this.report(result);
    return result;
  }

  private async readGuestMacs(): Promise<ReadonlyMap<string, readonly string[]>> {
    const timeoutMs = this.opts.guestMacsTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      const got = await Promise.race([this.opts.guestMacs(), timeout]);
      if (got === undefined) this.opts.log.warn({ timeoutMs }, 'guest MACs: libvirt did not answer in time; guest ports keep learning');
      return got ?? new Map();
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'guest MACs unavailable; guest ports keep learning');
      return new Map();
    } finally {
      clearTimeout(timer);
    }
  }

  private report(r: ReconcileResult): void {
    const { log } = this.opts;
    this.opts.onPass?.(r);
    if (r.ipLines + r.bridgeLines > 0 || r.errors.length > 0) {
      log.info({ event: 'ports-reconciled', reasons: r.reasons, ipLines: r.ipLines, bridgeLines: r.bridgeLines, ports: r.ports, ms: r.ms, errors: r.errors.length ? r.errors : undefined },
        'bridge ports brought to policy');
    } else {
      log.debug({ event: 'ports-in-policy', reasons: r.reasons, ports: r.ports, ms: r.ms }, 'bridge ports in policy');
    }
    // the same warnings every minute would drown the log: say them when they change
    const key = JSON.stringify(r.warnings.map((w) => [w.port, w.reason]));
    if (key !== this.lastWarnings) {
      this.lastWarnings = key;
      for (const w of r.warnings) log.warn({ event: 'port-policy-warning', bridge: w.bridge, port: w.port }, w.reason);
    }
  }
}

function noop(): void {}

/**
 * The two dumps the policy reads (links with their port flags, the FDB), concurrently; no
 * addresses, routes or counters: at 1000 ports this halves a pass, and a pass is the leak
 * window of a new port.
 */
export async function readPortState(ipr: Iproute): Promise<KernelState> {
  const s = await readKernelState(ipr, 'view');
  return { ...s, addresses: [], routes: [] };
}

const lines = (l: readonly string[]) => `${l.join('\n')}\n`;

/** Run a -force batch; a failing line (a port gone since the snapshot) is recorded, not thrown. */
async function batch(run: () => Promise<string>, errors: string[]): Promise<void> {
  try {
    await run();
  } catch (e) {
    if (!isIprouteError(e)) throw e;
    errors.push(...e.detail.stderr.split('\n').filter((l) => l.trim() !== ''));
  }
}
