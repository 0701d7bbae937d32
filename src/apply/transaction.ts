/**
 * The one place that orders a network change (as nmstate's net_state.rs does):
 *   validate → snapshot → plan → journal → execute → verify → confirm → commit
 * and on any failure after the journal: roll back to the snapshot, answer the original error.
 * Only one change runs at a time; a second one is refused at once (40).
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../model/context.js';
import { badBridge, ErrorCode, HostnetError, resourceUnavailable } from '../errors.js';
import { executePlan } from '../kernel/executor.js';
import type { Iproute } from '../kernel/iproute.js';
import { nicNames } from '../kernel/nics.js';
import { readKernelState, type ViewScope } from '../kernel/snapshot.js';
import type { DeviceTc, KernelFeatures, KernelState } from '../model/kernel-state.js';
import { readTc } from '../kernel/tc-read.js';
import { executeTc } from '../kernel/tc-exec.js';
import { desiredQos, planQos, qosTarget, type DesiredQos } from '../plan/qos.js';
import { isRemoval, type CanonicalRequest, type Removal } from '../model/request.js';
import { mergeRequest } from '../model/merge.js';
import { sameConfig } from '../model/compare.js';
import { emptyConfig, type HostConfig, type Network, type SetupOptions, type SetupRequest } from '../model/types.js';
import { desiredKernel, networkDevices, usableNetworks } from '../plan/desired.js';
import { autoconfValues, ownSysctls, type Ipv6Autoconf, type Ipv6Sysctls } from '../kernel/sysctl.js';
import { deviceClashes, diff } from '../plan/diff.js';
import { rollbackTarget, sliceState, touchedDevices } from '../plan/rollback.js';
import type { DesiredKernel, Op } from '../model/op.js';
import type { ConfigStore, PreparedConfig } from '../store/config-store.js';
import { readTextIfExists, unlinkDurable, writeFileAtomic } from '../store/atomic.js';
import { resetFaults } from '../faults.js';
import { Journal, newJournalId, type JournalEntry } from '../store/journal.js';
import { canonicalizeRequest } from '../validate/request.js';
import { validateTopology } from '../validate/topology.js';
import type { ConnectivityTracker } from './connectivity.js';
import { adoptBonds } from './adopt.js';
import { resolvConfText } from './resolv.js';
import type { NetworkChanger, NetworkMirror } from '../model/changer.js';
import type { DhcpClients } from '../dhcp/clients.js';
import { clientSpecs, sameSpec, type ClientSpec } from '../dhcp/spec.js';
import { holderLeaseResolvText, leaseDnsHolder } from '../dhcp/dns.js';
import { learnedIpv4, type Learned } from '../plan/source-routes.js';
import { guarded, noProgress, type ProgressSink } from '../model/progress.js';

/** The one dependency bag of the transaction engine: the daemon, restore and the tests build it. */
export interface TransactionDeps {
  ipr: Iproute;
  /** the IPv6 sysctls of the namespace `ipr` drives (default: the process's own, ownSysctls) */
  sysctls?: Ipv6Sysctls;
  store: ConfigStore;
  connectivity: ConnectivityTracker;
  /** where the journal and the batch records live */
  stateDir: string;
  fakeNics: string[];
  /** the resolver file nameservers are written to */
  resolvConf: string;
  log: Logger;
  /** libvirt's networks, kept in step after the kernel */
  mirror?: NetworkMirror;
  /**
   * The daemon's kernel view, read after a barrier: a change plans and verifies against it (its
   * own batch's events are queued before the barrier's answer). Default: a fresh dump.
   */
  current?: (scope?: ViewScope, o?: { freshAddresses?: boolean }) => Promise<KernelState>;
  /**
   * The view's config stamp of a state `current` returned (KernelView.configStamp): states with
   * the same stamp plan alike. Absent: only the very same state object does.
   */
  configStamp?: (state: KernelState) => number | undefined;
  /** the kernel event watch, paused while this process changes the kernel itself */
  watch?: { pause(): Promise<void>; resume(): void };
  /** the DHCP clients (absent: a change with a DHCP network still plans, but no client runs) */
  dhcp?: DhcpClients;
  /** how long a blockingdhcp change waits for its leases (--dhcp-timeout) */
  dhcpTimeoutMs?: number;
  /** what the kernel can do: a VLAN, a bond or hostQos it cannot make is refused (21) */
  features?: KernelFeatures;
}

/** What shapes one change beyond the configs: volatile attributes. */
export interface ApplyExtras {
  /** networks whose leases the answer waits for (blockingdhcp) */
  blockingDhcp?: ReadonlySet<string>;
  /** told each phase as it starts (the requester's progress; restore passes none) */
  progress?: ProgressSink;
}

/** What a change did, for logs and the restore summary. */
export interface ChangeResult {
  ops: number;
  changedConfig: boolean;
}

/** A running config and a kernel state whose plan is empty. */
interface QuietPlan {
  running: HostConfig;
  before: KernelState;
}

/** The kernel half of a plan: what the config wants of the kernel, and the operations to get there. Pure. */
function planKernel(desired: HostConfig, running: HostConfig, before: KernelState, learned: Learned | undefined): { want: DesiredKernel; ops: Op[] } {
  const want = desiredKernel(desired, running, (d) => d in before.links, learned);
  const clash = deviceClashes(want, before)[0];
  if (clash) throw badBridge(`device '${clash.name}' already exists as a ${clash.have} device; cannot use it as a ${clash.want}`);
  return { want, ops: diff(want, before) };
}

export class Transactions implements NetworkChanger {
  private busy: string | null = null;
  /** the running config and kernel state whose plan was last found empty */
  private quietPlan: QuietPlan | undefined;

  private readonly journal: Journal;

  constructor(private readonly deps: TransactionDeps) {
    this.journal = new Journal(deps.stateDir);
  }

  async setup(request: SetupRequest, ctx: RequestContext): Promise<void> {
    await this.exclusive('Host.setupNetworks', async () => {
      resetFaults();
      const tell = guarded(ctx.progress ?? noProgress, (err) => ctx.log.warn({ event: 'progress-failed', err: errText(err) }, 'could not report progress'));
      tell({ phase: 'planning' });
      const t0 = performance.now();
      const req = canonicalizeRequest(request);
      this.checkFeatures(req);
      // a rollback that could not finish left its journal: settle it before planning anew
      await this.recover(ctx.log);
      const t1 = performance.now();
      const running = this.deps.store.running();
      // addresses read again, as for verification, when IPv6 ones are managed: planning without
      // one the kernel has not notified yet would add it twice (100 "File exists")
      const freshAddresses = managesIpv6Addresses(running.networks) || managesIpv6Addresses(req.networks);
      const before = await (this.deps.current ? this.deps.current('view', { freshAddresses }) : readKernelState(this.deps.ipr, 'config'));
      const t2 = performance.now();
      const desired = this.desiredFrom(running, req, before);
      const timings = { validateMs: Math.round(t1 - t0 + performance.now() - t2), snapshotMs: Math.round(t2 - t1) };
      await this.apply(desired, running, before, req.options, ctx.log.child(timings), { blockingDhcp: req.blockingDhcp, progress: tell });
    });
  }

  /**
   * The kernel operations from `before` to `desired`. Planning is pure, so a request that leaves
   * the config as it is, on a kernel state that plans like the one whose plan was found empty
   * last time (the same rendering, or the same config stamp: only running state changed since),
   * is empty again without planning anew.
   */
  private kernelPlan(
    desired: HostConfig, running: HostConfig, before: KernelState, changedConfig: boolean, learned: Learned | undefined,
  ): { want?: DesiredKernel; ops: Op[]; reused: boolean } {
    const quiet = this.quietPlan;
    // a lease that changed no address (a new router alone) is LeaseRoutes' to follow, not a change's
    if (!changedConfig && quiet?.running === running && this.plansAlike(quiet.before, before)) return { ops: [], reused: true };
    const { want, ops } = planKernel(desired, running, before, learned);
    this.quietPlan = !changedConfig && ops.length === 0 ? { running, before } : undefined;
    return { want, ops, reused: false };
  }

  private plansAlike(a: KernelState, b: KernelState): boolean {
    if (a === b) return true;
    const stamp = this.deps.configStamp?.(a);
    return stamp !== undefined && stamp === this.deps.configStamp?.(b);
  }

  /**
   * A change's own config planned again on the kernel it was verified against. Empty (as it
   * should be), it lets the identical request that follows skip planning while only running
   * state changes: the kernel's tail of a big change (the bridges' operstates and IPv6
   * link-local addresses, for a second or so) would otherwise make it plan 1000 networks again.
   * Made while the IPv6 sysctls are written on their threads.
   */
  private quietAfter(config: HostConfig, now: KernelState, learned: Learned | undefined): QuietPlan | undefined {
    if (this.deps.configStamp?.(now) === undefined) return undefined;
    try {
      return planKernel(config, config, now, learned).ops.length === 0 ? { running: config, before: now } : undefined;
    } catch {
      // a clash refused now would be refused to the next request too, which then plans in full
      return undefined;
    }
  }

  /**
   * A change's CPU part on made-up data, touching nothing: the request checked and merged, the
   * plan, the rollback slice and the running config's text, as setup() and apply() make them
   * (warm-up.ts runs this before the daemon serves). Returns the plan's length.
   */
  rehearse(request: SetupRequest, before: KernelState): number {
    const req = canonicalizeRequest(request);
    this.checkFeatures(req);
    const running = emptyConfig();
    const desired = this.desiredFrom(running, req, before);
    const exists = (d: string) => d in before.links;
    sameConfig(desired, running);
    clientSpecs(desired, exists);
    const { ops } = planKernel(desired, running, before, undefined);
    sliceState(before, touchedDevices(ops, before));
    this.deps.store.prepare(desired);
    return ops.length;
  }

  /** A request for what this kernel cannot do is refused before anything is touched (21). */
  private checkFeatures(req: CanonicalRequest): void {
    const f = this.deps.features;
    if (!f) return;
    for (const [name, net] of Object.entries(req.networks)) {
      if (isRemoval(net) || !net.hostQos) continue;
      const missing = [...(f.hfsc ? [] : ['HFSC (sch_hfsc)']), ...(f.fqCodel ? [] : ['fq_codel (sch_fq_codel)'])];
      if (missing.length) {
        throw new HostnetError(ErrorCode.BAD_PARAMS, `network '${name}': hostQos needs the kernel's ${missing.join(' and ')} qdisc, which this kernel lacks (see hostnet.kernel in the capabilities)`);
      }
    }
  }

  async setSafe(ctx: RequestContext): Promise<void> {
    await this.exclusive('Host.setSafeNetworkConfig', async () => {
      resetFaults();
      await this.deps.store.makeSafe();
      ctx.log.info({ event: 'safe-config-saved' }, 'running config is now the safe config');
    });
  }

  /** Merge and check a request against the running config and the kernel; throws before anything is touched. */
  desiredFrom(running: HostConfig, req: CanonicalRequest, before: KernelState): HostConfig {
    const kernelBonds = new Set(Object.values(before.links).filter((l) => l.kind === 'bond').map((l) => l.name));
    const desired = mergeRequest(running, req, kernelBonds);
    adoptBonds(desired, before);
    const vlansOn = new Map<string, string[]>();
    for (const l of Object.values(before.links)) {
      if (l.kind === 'vlan' && l.link !== undefined) vlansOn.set(l.link, [...(vlansOn.get(l.link) ?? []), l.name]);
    }
    validateTopology(desired, running, req, {
      nics: nicNames(before, this.deps.fakeNics), bonds: kernelBonds, vlansOn,
      ...(this.deps.features ? { features: this.deps.features } : {}),
    });
    return desired;
  }

  /**
   * Take the kernel and the running config from `running` to `desired`, all or nothing.
   * Also the path of the boot-time restore (with the safe config as desired).
   *
   * Every side effect is a step with an undo (the kernel batch, the IPv6 sysctls, libvirt, the
   * resolver file), journaled before it runs so that a crash is undone too; the running config
   * is committed last, so it never gets ahead of the kernel. Any failure undoes every step
   * taken, in reverse, and puts the running config back.
   */
  async apply(
    desired: HostConfig, running: HostConfig, before: KernelState, options: SetupOptions, log: Logger, extras: ApplyExtras = {},
  ): Promise<ChangeResult> {
    const planStarted = performance.now();
    const changedConfig = !sameConfig(desired, running);
    const clients = clientSpecs(desired, (d) => d in before.links);
    const learned = this.keptLeases(clients);
    const { want, ops, reused } = this.kernelPlan(desired, running, before, changedConfig, learned);
    const qos = desiredQos(desired, running, (d) => d in before.links);
    const qosDevices = Object.keys(qos);
    const tcBefore = qosDevices.length ? readTc(this.deps.ipr, before, qosDevices) : {};
    const qosLines = planQos(qos, tcBefore, (d) => d in before.links).length;
    log.info({ event: 'plan', ops: ops.length, changedConfig, ...(reused ? { reused } : {}), ...(qosDevices.length ? { qosLines } : {}) }, 'planned');
    if (ops.length === 0 && !changedConfig && qosLines === 0) {
      // nothing to change, but a client that died (or a boot) still needs starting
      if (this.deps.dhcp) await this.deps.dhcp.apply(clients);
      if (options.commitOnSuccess) await this.deps.store.makeSafe();
      return { ops: 0, changedConfig };
    }

    const tell = extras.progress ?? noProgress;
    const touched = touchedDevices(ops, before);
    const sysctls = await this.sysctlsBefore(desired, before, touched);
    const resolv = await this.resolverChange(desired, running);
    const entry: JournalEntry = {
      version: 1, id: newJournalId(), startedAt: new Date().toISOString(), phase: 'applying',
      before: {
        config: running, kernel: sliceState(before, touched),
        ...(sysctls.length ? { sysctls } : {}),
        ...(resolv ? { resolvConf: { path: resolv.path, text: resolv.old } } : {}),
        ...(options.commitOnSuccess ? { safe: this.deps.store.safe() } : {}),
        ...(qosDevices.length ? { tc: tcBefore } : {}),
      },
      desired, touched,
    };
    const timings: Record<string, number> = {};
    let mark = planStarted;
    const lap = (phase: string) => {
      const t = performance.now();
      timings[phase] = Math.round(t - mark);
      mark = t;
    };
    // the plan and the before-reads it needs (sysctls, the resolver file, tc)
    lap('planMs');
    await this.journal.begin(entry);
    lap('journalMs');
    tell({ phase: 'applying', ops: ops.length });
    const started = performance.now();
    const undo: { what: string; run: () => Promise<void> }[] = [];
    let dhcpTouched = false;
    let runOps = ops;
    let prepared: PreparedConfig | undefined;
    let quietNext: QuietPlan | undefined;
    let sysctlsWritten = false;
    // the kernel read after our own batch: addresses afresh only where IPv6 ones are managed
    const freshAddresses = managesIpv6Addresses(desired.networks) || managesIpv6Addresses(running.networks);
    try {
      if (this.deps.dhcp) {
        // released while their devices still exist (a removed bridge takes its client's lease with it)
        dhcpTouched = true;
        let stopped = 0;
        await clientStep('stop', async () => { stopped = (await this.deps.dhcp!.stopUnwanted(clients)).stopped.length; });
        // a released lease took its address and the routes through it along (the client's default
        // route, the network's table): the batch must not delete them again
        if (stopped > 0 && ops.length > 0) runOps = diff(want!, await this.kernelNow(freshAddresses));
      }
      if (ops.length > 0) {
        await this.quiet(async () => {
          const batch = this.run(runOps);
          batch.catch(() => undefined); // awaited below; a batch refused at once must not count as unhandled meanwhile
          // the commit's CPU part (~80 ms at 1000 networks), while the batch runs in its own
          // process: ip has its first pipe's worth of input (64 KiB, ~1600 lines) already
          // (iproute.ts), which keeps it busy for longer than this takes
          try {
            prepared = this.deps.store.prepare(desired);
          } catch {
            // a config the store refuses: commitRunning(desired) meets it again at its own step
          }
          await batch;
          lap('executeMs');
          tell({ phase: 'verifying' });
          // the new devices exist: their IPv6 sysctls are written on pool threads while the kernel is verified
          sysctlsWritten = true;
          const verified = this.verify(want!, freshAddresses).then((now) => {
            if (prepared) quietNext = this.quietAfter(prepared.copy, now, learned);
          });
          await both(verified, this.writeIpv6Autoconf(desired, before, runOps, entry.before.sysctls));
          lap('verifyMs');
        });
      }
      if (qosDevices.length) {
        await this.quiet(() => this.applyQos(qos));
        lap('tcMs');
      }
      if (!sysctlsWritten) await this.writeIpv6Autoconf(desired, before, runOps, entry.before.sysctls);
      lap('sysctlMs');
      if (this.deps.dhcp) await this.startClients(clients, extras.blockingDhcp, log, tell);
      lap('dhcpMs');
      if (this.deps.mirror) {
        const mirrored = await this.deps.mirror.sync(desired);
        undo.push({ what: 'libvirt', run: () => mirrored.undo(running) });
      }
      lap('libvirtMs');
      if (resolv) await this.writeResolver(resolv, desired, undo, log);
      if (options.connectivityCheck && ops.length > 0) {
        tell({ phase: 'confirming', timeoutSeconds: options.connectivityTimeout });
        await this.confirm(started, options.connectivityTimeout, log);
      }
      lap('confirmMs');
      tell({ phase: 'committing' });
      await this.deps.store.commitRunning(prepared ?? desired);
      if (options.commitOnSuccess) await this.deps.store.makeSafe();
      await this.journal.clear();
      // the config committed is the one planned again (a change that only repaired the kernel keeps its old one)
      this.quietPlan = quietNext?.running === this.deps.store.running() ? quietNext : undefined;
      lap('commitMs');
    } catch (err) {
      const code = err instanceof HostnetError ? err.code : undefined;
      log.warn({ event: 'rollback', code, err: errText(err) }, 'change failed, rolling back');
      tell({ phase: 'rolling-back', ...(code !== undefined ? { code } : {}) });
      // clients this change started go first, releasing while their devices exist (and none is restarted meanwhile)
      if (dhcpTouched) await this.deps.dhcp!.stopUnwanted(clientSpecs(running, (d) => d in before.links)).catch((e: unknown) => log.error({ event: 'undo-failed', step: 'dhcp', err: errText(e) }, 'could not stop the DHCP clients of the failed change'));
      for (const step of undo.reverse()) {
        await step.run().catch((e: unknown) => log.error({ event: 'undo-failed', step: step.what, err: errText(e) }, `could not undo the ${step.what} step`));
      }
      if (ops.length > 0) await this.quiet(() => this.rollback(entry.before.kernel, touched, log, err));
      // after the links: a bond or NIC the rollback brought back gets its classes again
      if (qosDevices.length) await this.quiet(() => this.rollbackQos(tcBefore, qosDevices, log, err));
      await restoreSysctls(this.sysctls, entry.before.sysctls).catch((e: unknown) => log.error({ event: 'undo-failed', step: 'sysctl', err: errText(e) }, 'could not restore IPv6 sysctls'));
      if (dhcpTouched) await this.restoreClients(running, log);
      await this.settle(entry, log);
      throw err;
    }
    log.info({ event: 'applied', ops: ops.length, ms: Math.round(performance.now() - started), ...timings }, 'change applied');
    return { ops: ops.length, changedConfig };
  }

  /**
   * The DHCPv4 leases this change keeps: those of clients that run on as they are. A client the
   * change stops or reconfigures releases its lease before the batch, so its network's table
   * waits for the next lease (LeaseRoutes adds it then).
   */
  private keptLeases(clients: ReadonlyMap<string, ClientSpec>): Learned | undefined {
    const dhcp = this.deps.dhcp;
    if (!dhcp) return undefined;
    const running = dhcp.running();
    return (dev) => {
      const want = clients.get(dev);
      const have = running.get(dev);
      return want && have && sameSpec(want, have) ? learnedIpv4(dhcp.lease(dev)?.v4) : undefined;
    };
  }

  /**
   * The DHCP step: start the clients the change adds or reconfigures (their devices exist now).
   * For blockingdhcp networks, wait for their leases up to --dhcp-timeout: none in time fails
   * the change with 29 (VDSM's ERR_FAILED_IFUP) and rolls it back.
   */
  private async startClients(clients: ReadonlyMap<string, ClientSpec>, blocking: ReadonlySet<string> = new Set(), log: Logger, tell: ProgressSink): Promise<void> {
    const dhcp = this.deps.dhcp!;
    await clientStep('start', () => dhcp.apply(clients));
    const waitFor = [...clients.values()].filter((c) => blocking.has(c.network));
    if (waitFor.length === 0) return;
    const timeoutMs = this.deps.dhcpTimeoutMs ?? 60_000;
    log.info({ event: 'await-dhcp', networks: waitFor.map((c) => c.network), timeoutSeconds: timeoutMs / 1000 }, 'waiting for DHCP leases (blockingdhcp)');
    tell({ phase: 'dhcp', networks: waitFor.map((c) => c.network), timeoutSeconds: timeoutMs / 1000 });
    const missing = await dhcp.waitLeases(waitFor, timeoutMs);
    if (missing.length) {
      const nets = waitFor.filter((c) => missing.includes(c.dev)).map((c) => `'${c.network}' (${c.dev})`);
      throw new HostnetError(ErrorCode.FAILED_IFUP, `no DHCP lease within ${timeoutMs / 1000} s for network ${nets.join(', ')} (blockingdhcp); changes rolled back`);
    }
  }

  /** Undo of the DHCP step, after the kernel is back: the clients of the previous config, as they were. */
  private async restoreClients(running: HostConfig, log: Logger): Promise<void> {
    try {
      const now = await readKernelState(this.deps.ipr, 'config');
      await this.deps.dhcp!.apply(clientSpecs(running, (d) => d in now.links));
    } catch (e) {
      log.error({ event: 'undo-failed', step: 'dhcp', err: errText(e) }, 'could not put the DHCP clients back');
    }
  }

  /**
   * Settle a change a crash interrupted (kill -9, power loss): roll the kernel, the IPv6
   * sysctls, the resolver file and the running config back to what the journal recorded.
   * Runs before any request.
   */
  async recover(log: Logger): Promise<boolean> {
    const entry = await this.journal.pending();
    if (!entry) return false;
    log.warn({ event: 'recover', id: entry.id, startedAt: entry.startedAt }, 'rolling back an unfinished change');
    await this.rollback(entry.before.kernel, entry.touched, log);
    if (entry.before.tc) await this.rollbackQos(entry.before.tc, Object.keys(entry.before.tc), log);
    await restoreSysctls(this.sysctls, entry.before.sysctls);
    const resolv = entry.before.resolvConf;
    if (resolv) await restoreFile(resolv.path, resolv.text);
    await this.restoreConfigs(entry);
    await this.journal.clear();
    log.info({ event: 'recovered', id: entry.id }, 'unfinished change rolled back');
    return true;
  }

  /** The running (and, for a change that was to make itself safe, the safe) config as the journal recorded them; writes only what differs. */
  private async restoreConfigs(entry: JournalEntry): Promise<void> {
    await this.deps.store.commitRunning(entry.before.config);
    if (entry.before.safe) await this.deps.store.restoreSafe(entry.before.safe);
  }

  /**
   * After a failed change is undone: the running config back to what it was (a failure after its
   * commit, e.g. of the safe config or the journal's removal) and the journal gone. If either
   * fails, the journal stays and the next change or start settles it; the client still gets the
   * error that failed the change.
   */
  private async settle(entry: JournalEntry, log: Logger): Promise<void> {
    try {
      await this.restoreConfigs(entry);
      await this.journal.clear();
    } catch (e) {
      log.error({ event: 'settle-failed', err: errText(e) }, 'could not settle the failed change; the journal stays for the next start');
    }
  }

  private async exclusive(what: string, fn: () => Promise<void>): Promise<void> {
    if (this.busy) throw resourceUnavailable(this.busy);
    this.busy = what;
    try {
      await fn();
    } finally {
      this.busy = null;
    }
  }

  private get sysctls(): Ipv6Sysctls {
    return this.deps.sysctls ?? ownSysctls;
  }

  /**
   * The IPv6 sysctls (accept_ra, autoconf) a failed change must put back, read before the journal:
   * those of every device the change touches or sets them on, that exists now. A device the
   * rollback re-creates gets them back too (the kernel would give it the defaults).
   */
  private async sysctlsBefore(desired: HostConfig, before: KernelState, touched: readonly string[]): Promise<JournalSysctl[]> {
    const devs = new Set([...touched, ...this.autoconfWanted(desired, before).keys()].filter((d) => d in before.links));
    return [...(await this.sysctls.read([...devs]))].map(([dev, v]) => ({ dev, ...v }));
  }

  private autoconfWanted(desired: HostConfig, before: KernelState): Map<string, Ipv6Autoconf> {
    return new Map(usableNetworks(desired, (d) => d in before.links).map((n) => [networkDevices(n).top, autoconfValues(n.ipv6.autoconf)] as const));
  }

  /**
   * Write the sysctls that differ, after the batch (new devices exist). What a device had is
   * known from the journal's before-read unless the batch may have reset it: a device created or
   * deleted, or whose MTU changed (crossing IPv6's 1280 minimum drops or re-creates its IPv6
   * state with the defaults). Those are written unconditionally, skipped where they have no IPv6;
   * this saves a read of every device after the batch (a link dump, ~20 ms at 1000 networks).
   * A failure puts back the journaled ones.
   */
  private async writeIpv6Autoconf(desired: HostConfig, before: KernelState, ops: readonly Op[], saved: readonly JournalSysctl[] = []): Promise<void> {
    const had = new Map(saved.map((s) => [s.dev, s] as const));
    const reset = mayResetIpv6(ops);
    const changes = new Map([...this.autoconfWanted(desired, before)].filter(([dev, v]) => {
      const old = had.get(dev);
      return reset.has(dev) || !old || differs(old, v);
    }));
    if (changes.size === 0) return;
    await this.sysctls.write(changes, { absentOk: true });
  }

  /**
   * The resolver file's current text (read before the journal, which keeps it) and the static
   * nameservers' new one; or null when the change cannot write the file. It can when the static
   * nameservers change, and when the defaultRoute network takes its nameservers from a DHCP lease
   * (auto DNS): the lease it has when the step runs is only known then, so the text from before
   * is kept whether or not it ends up written.
   */
  private async resolverChange(desired: HostConfig, running: HostConfig): Promise<ResolverChange | null> {
    const text = resolvConfText(desired, running);
    if (text === null && !(this.deps.dhcp && leaseDnsHolder(desired))) return null;
    const path = this.deps.resolvConf;
    try {
      return { path, text, old: await readTextIfExists(path) };
    } catch (e) {
      throw new HostnetError(ErrorCode.STORE_FAILED, `cannot read the resolver file ${path}: ${errText(e)}`, { cause: e });
    }
  }

  /** The static nameservers, or else the holder's lease's (this change's blockingdhcp wait may have brought it), when they differ from the file. */
  private async writeResolver(change: ResolverChange, desired: HostConfig, undo: { what: string; run: () => Promise<void> }[], log: Logger): Promise<void> {
    const lease = change.text === null ? holderLeaseResolvText(desired, (dev) => this.deps.dhcp!.lease(dev)) : null;
    const text = change.text ?? lease?.text ?? null;
    if (text === null || text === change.old) return;
    undo.push({ what: 'resolver file', run: () => restoreFile(change.path, change.old) });
    try {
      await writeFileAtomic(change.path, text, { mode: 0o644 });
      if (lease) log.info({ event: 'dhcp-nameservers', dev: lease.dev }, 'resolver file follows the DHCP lease');
    } catch (e) {
      throw new HostnetError(ErrorCode.STORE_FAILED, `cannot write the resolver file ${change.path}: ${errText(e)}`, { cause: e });
    }
  }

  /** Kernel changes run with the event watch paused (see KernelCache.pause); the view is rebuilt after. */
  private async quiet<T>(fn: () => Promise<T>): Promise<T> {
    await this.deps.watch?.pause();
    try {
      return await fn();
    } finally {
      this.deps.watch?.resume();
    }
  }

  private async run(ops: readonly Op[], opts: { force?: boolean } = {}): Promise<void> {
    await executePlan(this.deps.ipr, ops, opts);
  }

  private kernelNow(freshAddresses: boolean): Promise<KernelState> {
    return this.deps.current ? this.deps.current('config', { freshAddresses }) : readKernelState(this.deps.ipr, 'config');
  }

  /** Returns the kernel it verified. */
  private async verify(want: DesiredKernel, freshAddresses: boolean): Promise<KernelState> {
    // our batch has exited, so its notifications sit before the barrier's answer, but for IPv6
    // addresses: the kernel notifies one only when its DAD runs (on a device without carrier, not
    // before the carrier comes), while a dump lists it at once: those alone are read again
    const now = await this.kernelNow(freshAddresses);
    const left = diff(want, now);
    if (left.length) {
      throw new HostnetError(ErrorCode.VERIFY_FAILED, `kernel state does not match the request after applying: still needed ${describeOps(left)}`);
    }
    return now;
  }

  /**
   * The hostQos step, after the links are verified (a bond it shapes may be new): one `tc -batch`
   * for every device whose tc differs, then the devices read again must match.
   */
  private async applyQos(want: DesiredQos): Promise<void> {
    const now = await (this.deps.current ? this.deps.current('config') : readKernelState(this.deps.ipr, 'config'));
    const exists = (d: string) => d in now.links;
    const devices = Object.keys(want);
    await executeTc(this.deps.ipr, planQos(want, readTc(this.deps.ipr, now, devices), exists));
    const left = planQos(want, readTc(this.deps.ipr, now, devices), exists);
    if (left.length) {
      throw new HostnetError(ErrorCode.VERIFY_FAILED, `traffic control does not match hostQos after applying: still needed '${left[0]}'${left.length > 1 ? ` and ${left.length - 1} more` : ''}`);
    }
  }

  /** The devices' tc back to the snapshot (our layout or none of ours), as far as they exist; -force, then checked. */
  private async rollbackQos(before: Record<string, DeviceTc>, devices: readonly string[], log: Logger, cause?: unknown): Promise<void> {
    const target = qosTarget(before, devices);
    const now = await readKernelState(this.deps.ipr, 'config');
    const exists = (d: string) => d in now.links;
    const lines = planQos(target, readTc(this.deps.ipr, now, devices), exists);
    if (lines.length === 0) return;
    try {
      await executeTc(this.deps.ipr, lines, { force: true });
    } catch (e) {
      log.error({ event: 'rollback-step-failed', step: 'tc', err: errText(e) }, 'a tc rollback line failed; checking what is left');
    }
    const left = planQos(target, readTc(this.deps.ipr, now, devices), exists);
    if (left.length) {
      const why = cause ? ` after: ${errText(cause)}` : '';
      throw new HostnetError(ErrorCode.ROLLBACK_FAILED, `rollback incomplete${why}; hostQos still differing: ${left.join('; ')}`);
    }
    log.info({ event: 'rolled-back', step: 'tc', lines: lines.length }, 'hostQos rolled back');
  }

  private async confirm(since: number, timeoutSeconds: number, log: Logger): Promise<void> {
    log.info({ event: 'await-connectivity', timeoutSeconds }, 'waiting for Host.confirmConnectivity');
    if (!(await this.deps.connectivity.waitSince(since, timeoutSeconds * 1000))) {
      throw new HostnetError(ErrorCode.LOST_CONNECTION, `connectivity check failed: no Host.confirmConnectivity within ${timeoutSeconds} s; changes rolled back`);
    }
  }

  /**
   * Take the touched devices back to the snapshot. A rollback batch runs with -force (past failing
   * lines); what is still different after it is planned and run again, up to three times, so a
   * step that failed once (a device busy for a moment) does not leave the host half rolled back.
   */
  private async rollback(before: KernelState, touched: readonly string[], log: Logger, cause?: unknown): Promise<void> {
    let now = await readKernelState(this.deps.ipr, 'config');
    const target = rollbackTarget(before, now, touched);
    let left = diff(target, now);
    let ran = 0;
    for (let attempt = 1; left.length > 0 && attempt <= 3; attempt++) {
      try {
        await this.run(left, { force: true });
      } catch (err) {
        log.error({ event: 'rollback-step-failed', attempt, err: errText(err) }, 'a rollback step failed; checking what is left');
      }
      ran += left.length;
      now = await readKernelState(this.deps.ipr, 'config');
      left = diff(target, now);
    }
    if (left.length) {
      log.error({ event: 'rollback-incomplete', left: describeOps(left) }, 'rollback incomplete');
      const why = cause ? ` after: ${errText(cause)}` : '';
      throw new HostnetError(ErrorCode.ROLLBACK_FAILED, `rollback incomplete${why}; still differing: ${describeOps(left)}`);
    }
    log.info({ event: 'rolled-back', ops: ran }, 'host rolled back');
  }
}

/** A DHCP client that cannot be started or stopped fails the change with 29 (VDSM's ERR_FAILED_IFUP). */
async function clientStep(what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof HostnetError) throw e;
    throw new HostnetError(ErrorCode.FAILED_IFUP, `cannot ${what} a DHCP client: ${errText(e)}; changes rolled back`, { cause: e });
  }
}

interface ResolverChange {
  path: string;
  /** the static nameservers' text; null: the defaultRoute network's DHCP lease names them */
  text: string | null;
  /** null: the file did not exist */
  old: string | null;
}

/** Put a file back as it was: its old text, or no file (a recovery finds it as it was when the change wrote nothing). */
async function restoreFile(file: string, text: string | null): Promise<void> {
  if ((await readTextIfExists(file)) === text) return;
  if (text === null) await unlinkDurable(file);
  else await writeFileAtomic(file, text, { mode: 0o644 });
}

/** Both steps run to their end (a rollback must not start while one still writes); the first one's failure first. */
async function both(first: Promise<void>, second: Promise<void>): Promise<void> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
}

/** The devices whose IPv6 sysctls the batch may have reset to the defaults. */
function mayResetIpv6(ops: readonly Op[]): Set<string> {
  const out = new Set<string>();
  for (const o of ops) {
    if (o.op === 'add-bridge' || o.op === 'add-vlan' || o.op === 'add-bond' || o.op === 'del' || o.op === 'mtu' || (o.op === 'up' && o.mtu !== undefined)) out.add(o.dev);
  }
  return out;
}

/** Put the journaled sysctls back where they differ, on the devices that exist. */
async function restoreSysctls(sysctls: Ipv6Sysctls, saved: readonly JournalSysctl[] = []): Promise<void> {
  const now = await sysctls.read(saved.map((s) => s.dev));
  const back = saved.filter((s) => now.has(s.dev) && differs(now.get(s.dev)!, s));
  await sysctls.write(new Map(back.map((s) => [s.dev, { autoconf: s.autoconf, acceptRa: s.acceptRa }] as const)));
}

type JournalSysctl = NonNullable<JournalEntry['before']['sysctls']>[number];

const differs = (a: Ipv6Autoconf, b: Ipv6Autoconf) => a.autoconf !== b.autoconf || a.acceptRa !== b.acceptRa;

function describeOps(ops: readonly Op[], max = 8): string {
  const shown = ops.slice(0, max).map((o) => `${o.op} ${'dev' in o ? o.dev : ''}`.trim());
  return ops.length > max ? `${shown.join(', ')} and ${ops.length - max} more` : shown.join(', ');
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Networks with static IPv6 addresses: the kernel notifies an IPv6 address from its DAD work,
 * after the `ip` that added it returned, so a barrier alone may come before it; only a change
 * that manages one pays for reading every address again.
 */
function managesIpv6Addresses(networks: Record<string, Network | Removal>): boolean {
  return Object.values(networks).some((n) => !isRemoval(n) && n.ipv6.addresses.length > 0);
}
