/**
 * The one place that orders a network change (as nmstate's net_state.rs does):
 *   validate → snapshot → plan → journal → execute → verify → confirm → commit
 * and on any failure after the journal: roll back to the snapshot, answer the original error.
 * Only one change runs at a time; a second one is refused at once (40).
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../api/context.js';
import { ErrorCode, HostnetError } from '../errors.js';
import { executePlan } from '../kernel/executor.js';
import type { Iproute } from '../kernel/iproute.js';
import { nicNames } from '../kernel/nics.js';
import { readKernelState } from '../kernel/snapshot.js';
import type { KernelState } from '../kernel/types.js';
import { mergeRequest } from '../model/merge.js';
import { sameConfig } from '../model/compare.js';
import type { HostConfig, SetupOptions, SetupRequest } from '../model/types.js';
import { desiredKernel, networkDevices, usableNetworks } from '../plan/desired.js';
import { autoconfValues, readIpv6Autoconf, writeIpv6Autoconf } from '../kernel/sysctl.js';
import { diff } from '../plan/diff.js';
import { rollbackTarget, sliceState, touchedDevices } from '../plan/rollback.js';
import type { DesiredKernel, Op } from '../plan/types.js';
import type { ConfigStore } from '../store/config-store.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Journal, JournalEntry } from '../store/journal.js';
import { newJournalId } from '../store/journal.js';
import { canonicalizeRequest, type CanonicalRequest } from '../validate/request.js';
import { validateTopology } from '../validate/topology.js';
import type { ConnectivityTracker } from './connectivity.js';
import { adoptBonds } from './adopt.js';
import { resolvConfText } from './resolv.js';
import type { NetworkChanger, NetworkMirror } from './types.js';

export interface TransactionDeps {
  ipr: Iproute;
  store: ConfigStore;
  journal: Journal;
  connectivity: ConnectivityTracker;
  fakeNics: string[];
  /** the resolver file nameservers are written to */
  resolvConf: string;
  log: Logger;
  /** libvirt's networks, kept in step after the kernel */
  mirror?: NetworkMirror;
  /** the snapshot a change plans against (the daemon's event-invalidated cache); default: a fresh dump */
  current?: () => Promise<KernelState>;
  /** the kernel event watch, paused while this process changes the kernel itself */
  watch?: { pause(): Promise<void>; resume(): void };
}

/** What a change did, for logs and the restore summary. */
export interface ChangeResult {
  ops: number;
  changedConfig: boolean;
}

export class Transactions implements NetworkChanger {
  private busy: string | null = null;

  constructor(private readonly deps: TransactionDeps) {}

  async setup(request: SetupRequest, ctx: RequestContext): Promise<void> {
    await this.exclusive('Host.setupNetworks', async () => {
      const t0 = performance.now();
      const req = canonicalizeRequest(request);
      // a rollback that could not finish left its journal: settle it before planning anew
      await this.recover(ctx.log);
      const t1 = performance.now();
      const before = await (this.deps.current ? this.deps.current() : readKernelState(this.deps.ipr, 'config'));
      const t2 = performance.now();
      const running = this.deps.store.running();
      const desired = this.desiredFrom(running, req, before);
      const timings = { validateMs: Math.round(t1 - t0 + performance.now() - t2), snapshotMs: Math.round(t2 - t1) };
      await this.apply(desired, running, before, req.options, ctx.log.child(timings));
    });
  }

  async setSafe(ctx: RequestContext): Promise<void> {
    await this.exclusive('Host.setSafeNetworkConfig', async () => {
      await this.deps.store.makeSafe();
      ctx.log.info({ event: 'safe-config-saved' }, 'running config is now the safe config');
    });
  }

  /** Merge and check a request against the running config and the kernel; throws before anything is touched. */
  desiredFrom(running: HostConfig, req: CanonicalRequest, before: KernelState): HostConfig {
    const kernelBonds = new Set(Object.values(before.links).filter((l) => l.kind === 'bond').map((l) => l.name));
    const desired = mergeRequest(running, req, kernelBonds);
    adoptBonds(desired, before);
    validateTopology(desired, running, req, { nics: nicNames(before, this.deps.fakeNics), bonds: kernelBonds });
    return desired;
  }

  /**
   * Take the kernel and the running config from `running` to `desired`, all or nothing.
   * Also the path of the boot-time restore (with the safe config as desired).
   */
  async apply(desired: HostConfig, running: HostConfig, before: KernelState, options: SetupOptions, log: Logger): Promise<ChangeResult> {
    const want = desiredKernel(desired, running, (d) => d in before.links);
    const ops = diff(want, before);
    const changedConfig = !sameConfig(desired, running);
    log.info({ event: 'plan', ops: ops.length, changedConfig }, 'planned');
    if (ops.length === 0) {
      if (changedConfig) {
        const restoreSysctls = await this.applyIpv6Autoconf(desired, before);
        let mirrored: Awaited<ReturnType<NetworkMirror['sync']>> | undefined;
        try {
          mirrored = await this.deps.mirror?.sync(desired);
          await this.commit(desired, running, options);
        } catch (err) {
          await mirrored?.undo(running);
          await restoreSysctls?.();
          throw err;
        }
      }
      else if (options.commitOnSuccess) await this.deps.store.makeSafe();
      return { ops: 0, changedConfig };
    }

    const touched = touchedDevices(ops, before);
    const entry: JournalEntry = {
      version: 1, id: newJournalId(), startedAt: new Date().toISOString(), phase: 'applying',
      before: { config: running, kernel: sliceState(before, touched) }, desired, touched,
    };
    const timings: Record<string, number> = {};
    let mark = performance.now();
    const lap = (phase: string) => {
      const t = performance.now();
      timings[phase] = Math.round(t - mark);
      mark = t;
    };
    await this.deps.journal.begin(entry);
    lap('journalMs');
    const started = performance.now();
    let mirrored: Awaited<ReturnType<NetworkMirror['sync']>> | undefined;
    let restoreSysctls: (() => Promise<void>) | undefined;
    try {
      await this.quiet(async () => {
        await this.run(ops);
        lap('executeMs');
        await this.deps.journal.advance('verifying');
        await this.verify(want);
        lap('verifyMs');
      });
      restoreSysctls = await this.applyIpv6Autoconf(desired, before);
      lap('sysctlMs');
      mirrored = await this.deps.mirror?.sync(desired);
      lap('libvirtMs');
      if (options.connectivityCheck) await this.confirm(started, options.connectivityTimeout, log);
      lap('confirmMs');
      await this.deps.journal.advance('committing');
      await this.commit(desired, running, options);
      lap('commitMs');
    } catch (err) {
      log.warn({ event: 'rollback', code: err instanceof HostnetError ? err.code : undefined, err: errText(err) }, 'change failed, rolling back');
      await mirrored?.undo(running).catch((e: unknown) => log.error({ event: 'libvirt-undo-failed', err: errText(e) }, 'could not undo the libvirt change'));
      await restoreSysctls?.().catch((e: unknown) => log.error({ event: 'sysctl-undo-failed', err: errText(e) }, 'could not restore IPv6 sysctls'));
      await this.quiet(() => this.rollback(entry.before.kernel, touched, log, err));
      await this.deps.journal.clear();
      throw err;
    }
    await this.deps.journal.clear();
    log.info({ event: 'applied', ops: ops.length, ms: Math.round(performance.now() - started), ...timings }, 'change applied');
    return { ops: ops.length, changedConfig };
  }

  /**
   * Settle a change a crash interrupted (kill -9, power loss): roll the kernel back to the
   * snapshot in the journal and the running config to what it was. Runs before any request.
   */
  async recover(log: Logger): Promise<boolean> {
    const entry = await this.deps.journal.pending();
    if (!entry) return false;
    log.warn({ event: 'recover', id: entry.id, phase: entry.phase, startedAt: entry.startedAt }, 'rolling back an unfinished change');
    await this.rollback(entry.before.kernel, entry.touched, log);
    if (!sameConfig(this.deps.store.running(), entry.before.config)) {
      await this.deps.store.commitRunning(entry.before.config);
    }
    await this.deps.journal.clear();
    log.info({ event: 'recovered', id: entry.id }, 'unfinished change rolled back');
    return true;
  }

  private async exclusive(what: string, fn: () => Promise<void>): Promise<void> {
    if (this.busy) throw new HostnetError(ErrorCode.UNAVAIL, `Resource unavailable: ${this.busy} is running; try again when it ends`);
    this.busy = what;
    try {
      await fn();
    } finally {
      this.busy = null;
    }
  }

  /**
   * ipv6autoconf on each network's IP device (accept_ra and autoconf sysctls); only devices whose
   * values differ are written. Returns how to put the old values back. Skipped when the
   * transaction drives a namespace from outside (tests of the planner), where /proc/sys is not its own.
   */
  private async applyIpv6Autoconf(desired: HostConfig, before: KernelState): Promise<(() => Promise<void>) | undefined> {
    if (this.deps.ipr.netns !== undefined) return undefined;
    const want = new Map(usableNetworks(desired, (d) => d in before.links)
      .map((n) => [networkDevices(n).top, autoconfValues(n.ipv6.autoconf)] as const));
    const current = await readIpv6Autoconf([...want.keys()]);
    const changes = new Map([...want].filter(([dev, v]) => {
      const cur = current.get(dev);
      return cur !== undefined && (cur.autoconf !== v.autoconf || cur.acceptRa !== v.acceptRa);
    }));
    if (changes.size === 0) return undefined;
    await writeIpv6Autoconf(changes);
    const old = new Map([...changes.keys()].map((dev) => [dev, current.get(dev)!] as const));
    return () => writeIpv6Autoconf(old);
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

  private async verify(want: DesiredKernel): Promise<void> {
    const left = diff(want, await readKernelState(this.deps.ipr, 'config'));
    if (left.length) {
      throw new HostnetError(ErrorCode.VERIFY_FAILED, `kernel state does not match the request after applying: still needed ${describeOps(left)}`);
    }
  }

  private async confirm(since: number, timeoutSeconds: number, log: Logger): Promise<void> {
    await this.deps.journal.advance('confirming');
    log.info({ event: 'await-connectivity', timeoutSeconds }, 'waiting for Host.confirmConnectivity');
    if (!(await this.deps.connectivity.waitSince(since, timeoutSeconds * 1000))) {
      throw new HostnetError(ErrorCode.LOST_CONNECTION, `connectivity check failed: no Host.confirmConnectivity within ${timeoutSeconds} s; changes rolled back`);
    }
  }

  private async commit(desired: HostConfig, running: HostConfig, options: SetupOptions): Promise<void> {
    await this.deps.store.commitRunning(desired);
    if (options.commitOnSuccess) await this.deps.store.makeSafe();
    const text = resolvConfText(desired, running);
    if (text !== null) await writeFileAtomic(this.deps.resolvConf, text);
  }

  private async rollback(before: KernelState, touched: readonly string[], log: Logger, cause?: unknown): Promise<void> {
    const now = await readKernelState(this.deps.ipr, 'config');
    const target = rollbackTarget(before, now, touched);
    const ops = diff(target, now);
    try {
      await this.run(ops, { force: true });
    } catch (err) {
      log.error({ event: 'rollback-step-failed', err: errText(err) }, 'a rollback step failed; checking what is left');
    }
    const left = diff(target, await readKernelState(this.deps.ipr, 'config'));
    if (left.length) {
      log.error({ event: 'rollback-incomplete', left: describeOps(left) }, 'rollback incomplete');
      const why = cause ? ` after: ${errText(cause)}` : '';
      throw new HostnetError(ErrorCode.ROLLBACK_FAILED, `rollback incomplete${why}; still differing: ${describeOps(left)}`);
    }
    log.info({ event: 'rolled-back', ops: ops.length }, 'host rolled back');
  }
}

function describeOps(ops: readonly Op[], max = 8): string {
  const shown = ops.slice(0, max).map((o) => `${o.op} ${'dev' in o ? o.dev : ''}`.trim());
  return ops.length > max ? `${shown.join(', ')} and ${ops.length - max} more` : shown.join(', ');
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));
