/**
 * Port mirroring for networks (Host.setPortMirroring / Host.unsetPortMirroring, a hostnetd
 * extension: VDSM sets it up itself for a vNIC profile with mirroring). One change at a time,
 * by the change engine's rules: validate (nothing touched on bad input) → one `tc -batch` (and
 * the bridge's promiscuous flag) → verify by reading tc back → commit mirrors.json last; on any
 * failure the bridge is put back as it was and the error answered.
 *
 * The table is kept true by reconcile(): at start (mirrors survive a daemon restart, not a
 * reboot: taps are gone then), after every setupNetworks (a removed network drops its mirrors,
 * a rolled-back bridge gets them again) and when the kernel reports a tap or bridge deleted (a
 * deleted tap is dropped: the kernel leaves a mirred action pointing nowhere).
 *
 *   const mirrors = new PortMirrors({ ipr, stateDir, config: () => store.running(), log });
 *   await mirrors.start();
 *   const changer = mirrors.wrap(otherChanger);   // setupNetworks and mirror changes exclude each other
 *   view.onLink((ev) => ev.deleted && mirrors.deviceDeleted(ev.name));
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../model/context.js';
import type { NetworkChanger } from '../model/changer.js';
import { ErrorCode, HostnetError, resourceUnavailable } from '../errors.js';
import type { Iproute } from '../kernel/iproute.js';
import { bridgeNameProblem, isValidIfname } from '../model/names.js';
import type { HostConfig } from '../model/types.js';
import { Lane } from '../model/concurrency.js';
import { loadMirrors, saveMirrors, type MirrorTable } from './store.js';
import { bridgesWithIngress, matches, planMirror, readBridgeTc, runMirrorPlan } from './tc.js';

export interface PortMirrorsOptions {
  ipr: Iproute;
  stateDir: string;
  config: () => HostConfig;
  log: Logger;
}

export interface MirrorRequest {
  network: unknown;
  tap: unknown;
}

export class PortMirrors {
  private table: MirrorTable = new Map();
  /** every kernel change of this module runs here, one at a time */
  private readonly lane = new Lane();
  /** what is running that excludes the others: a setupNetworks or a mirror change */
  private busy: string | null = null;
  private reconcileQueued = false;

  constructor(private readonly opts: PortMirrorsOptions) {}

  /**
   * Loads mirrors.json (a file that breaks its schema stops the start, naming the file) and brings
   * the kernel in step; a tc failure then is logged, not fatal: the daemon must serve to be fixed.
   */
  async start(): Promise<void> {
    this.table = await loadMirrors(this.opts.stateDir);
    await this.reconcile('start').catch((e: unknown) =>
      this.opts.log.error({ event: 'mirror-reconcile-failed', err: (e as Error).message }, 'port mirror reconcile failed'));
  }

  /** network → mirror taps, for capabilities */
  status(): Record<string, string[]> {
    const out = Object.create(null) as Record<string, string[]>;
    for (const [net, taps] of [...this.table].sort(([a], [b]) => (a < b ? -1 : 1))) out[net] = [...taps];
    return out;
  }

  set(req: MirrorRequest, ctx: RequestContext): Promise<void> {
    return this.change('Host.setPortMirroring', req, ctx, (taps, tap) => [...taps, tap]);
  }

  unset(req: MirrorRequest, ctx: RequestContext): Promise<void> {
    return this.change('Host.unsetPortMirroring', req, ctx, (taps, tap) => taps.filter((t) => t !== tap));
  }

  /** The changer, excluded from running together with a mirror change, and followed by a reconcile. */
  wrap(changer: NetworkChanger): NetworkChanger {
    return {
      setup: async (request, ctx) => {
        this.claim('Host.setupNetworks');
        try {
          await changer.setup(request, ctx);
        } finally {
          this.busy = null;
          // after a success or a rollback alike: removed networks lose their mirrors, recreated bridges get theirs
          await this.reconcile('setupNetworks', { leftovers: false }).catch((e: unknown) =>
            ctx.log.error({ event: 'mirror-reconcile-failed', err: (e as Error).message }, 'port mirror reconcile failed'));
        }
      },
      setSafe: (ctx) => changer.setSafe(ctx),
    };
  }

  /** A link went away (the kernel view's link event): a mirror's tap or bridge among them means a reconcile. */
  deviceDeleted(dev: string): void {
    if (this.concerns(dev)) this.recheck(`deleted ${dev}`);
  }

  /** Links may have gone unseen (the kernel view read everything again): a reconcile, if any mirror exists. */
  recheck(why: string): void {
    if (this.table.size === 0 || this.reconcileQueued) return;
    this.reconcileQueued = true;
    void this.reconcile(why).catch((e: unknown) =>
      this.opts.log.error({ event: 'mirror-reconcile-failed', err: (e as Error).message }, 'port mirror reconcile failed'));
  }

  /**
   * Make the kernel and the table agree: mirrors of networks no longer bridged in the running
   * config, and of taps that are gone, are dropped (and the table saved); every remaining mirror
   * is (re)applied where the kernel differs; mirror filters on managed bridges without a mirror
   * (a crash between the kernel change and its commit) are removed. Skipped while a setupNetworks
   * runs: its wrapper reconciles when it ends.
   */
  reconcile(why: string, { leftovers: scanLeftovers = true } = {}): Promise<void> {
    return this.lane.run(async () => {
      this.reconcileQueued = false;
      if (this.busy === 'Host.setupNetworks') return;
      const log = this.opts.log.child({ component: 'mirrors' });
      const bridged = bridgedNetworks(this.opts.config());
      const next: MirrorTable = new Map();
      const dropped: string[] = [];
      for (const [net, taps] of this.table) {
        if (!bridged.has(net)) {
          dropped.push(...taps.map((t) => `${net}→${t}`));
          continue;
        }
        const alive = await this.existing(taps);
        dropped.push(...taps.filter((t) => !alive.includes(t)).map((t) => `${net}→${t}`));
        if (alive.length) next.set(net, alive);
      }
      // leftovers come only from a crash (a setupNetworks adds no mirror filter): one tc dump of every
      // bridge, worth it at start and after a tap or bridge went away, not after every change
      const leftovers = scanLeftovers ? [...(await bridgesWithIngress(this.opts.ipr))].filter((b) => bridged.has(b) && !next.has(b)) : [];
      for (const bridge of new Set([...next.keys(), ...leftovers])) {
        const cur = await readBridgeTc(this.opts.ipr, bridge);
        const taps = next.get(bridge) ?? [];
        if (cur === null || matches(cur, taps)) continue;
        // leftovers: removed only where our filter or our root qdisc is there
        if (taps.length === 0 && cur.ingressTargets.length === 0 && cur.root !== 'ours') continue;
        await runMirrorPlan(this.opts.ipr, bridge, planMirror(bridge, cur, taps), { force: true });
        log.info({ event: 'mirror-reconciled', network: bridge, taps, why }, 'port mirroring brought in step');
      }
      if (dropped.length) {
        this.table = next;
        await saveMirrors(this.opts.stateDir, next);
        log.info({ event: 'mirrors-dropped', mirrors: dropped, why }, 'port mirrors dropped (network or tap gone)');
      }
    });
  }

  private concerns(dev: string): boolean {
    for (const [net, taps] of this.table) if (net === dev || taps.includes(dev)) return true;
    return false;
  }

  private async existing(devs: readonly string[]): Promise<string[]> {
    const links = JSON.parse((await this.opts.ipr.ip(['-j', 'link', 'show'])) || '[]') as { ifname: string }[];
    const names = new Set(links.map((l) => l.ifname));
    return devs.filter((d) => names.has(d));
  }

  private claim(what: string): void {
    if (this.busy) throw resourceUnavailable(this.busy);
    this.busy = what;
  }

  private async change(what: string, req: MirrorRequest, ctx: RequestContext,
    edit: (taps: string[], tap: string) => string[]): Promise<void> {
    const { network, tap } = this.validate(req);
    this.claim(what);
    try {
      await this.lane.run(async () => {
        const before = this.table.get(network) ?? [];
        const after = [...new Set(edit(before, tap))].sort();
        if (what === 'Host.setPortMirroring' && (await this.existing([tap])).length === 0) {
          throw new HostnetError(ErrorCode.BAD_PARAMS, `${what}: tap '${tap}' does not exist`);
        }
        const cur = await readBridgeTc(this.opts.ipr, network);
        if (cur === null) throw new HostnetError(ErrorCode.BAD_BRIDGE, `${what}: the bridge of network '${network}' does not exist`);
        if (matches(cur, after) && after.join() === before.join()) return;
        const log = ctx.log.child({ network, tap });
        const plan = planMirror(network, cur, after);
        log.info({ event: 'mirror-plan', tc: plan.tc.length, promisc: plan.promisc }, 'port mirroring planned');
        try {
          await runMirrorPlan(this.opts.ipr, network, plan);
          const now = await readBridgeTc(this.opts.ipr, network);
          if (now === null || !matches(now, after)) {
            throw new HostnetError(ErrorCode.VERIFY_FAILED, `network '${network}': tc does not show the mirrors ${JSON.stringify(after)} after applying`);
          }
          const next = new Map(this.table);
          if (after.length) next.set(network, after);
          else next.delete(network);
          await saveMirrors(this.opts.stateDir, next).catch((e: unknown) => {
            throw new HostnetError(ErrorCode.STORE_FAILED, `cannot write mirrors.json: ${(e as Error).message}`, { cause: e });
          });
          this.table = next;
        } catch (err) {
          log.warn({ event: 'mirror-rollback', err: (err as Error).message }, 'port mirror change failed, rolling back');
          await this.restore(network, before, log);
          throw err;
        }
        log.info({ event: 'mirror-applied', taps: after }, 'port mirroring applied');
      });
    } finally {
      this.busy = null;
    }
  }

  /** Put a bridge back to mirroring `taps`; what cannot be restored is logged (the answer is the original error). */
  private async restore(network: string, taps: readonly string[], log: Logger): Promise<void> {
    try {
      const cur = await readBridgeTc(this.opts.ipr, network);
      if (cur !== null && !matches(cur, taps)) await runMirrorPlan(this.opts.ipr, network, planMirror(network, cur, taps), { force: true });
    } catch (e) {
      log.error({ event: 'mirror-rollback-failed', err: (e as Error).message }, 'could not restore port mirroring');
    }
  }

  private validate(req: MirrorRequest): { network: string; tap: string } {
    const { network, tap } = req;
    if (typeof network !== 'string') throw new HostnetError(ErrorCode.BAD_BRIDGE, `network must be a string, got ${JSON.stringify(network) ?? 'nothing'}`);
    const problem = bridgeNameProblem(network);
    if (problem !== null) throw new HostnetError(ErrorCode.BAD_BRIDGE, `network '${network}' ${problem}`);
    if (!bridgedNetworks(this.opts.config()).has(network)) {
      throw new HostnetError(ErrorCode.BAD_BRIDGE, `network '${network}' is not a bridged network of this host`);
    }
    if (!isValidIfname(tap)) throw new HostnetError(ErrorCode.BAD_PARAMS, `tap must be an interface name (at most 15 bytes of letters, digits, '_', '.', '-'), got ${JSON.stringify(tap) ?? 'nothing'}`);
    if (tap === network) throw new HostnetError(ErrorCode.BAD_PARAMS, `tap '${tap}' is the network's own bridge: it cannot mirror to itself`);
    return { network, tap };
  }
}

function bridgedNetworks(config: HostConfig): Set<string> {
  return new Set(Object.values(config.networks).filter((n) => n.bridged).map((n) => n.name));
}
