/**
 * Source routing of DHCP networks at lease time. A DHCPv4 lease of a network without
 * defaultRoute arrives, changes or goes while no setupNetworks runs; its table and rule (see
 * plan/source-routes.ts) follow it here, as one `ip -batch`, one sync at a time and never during
 * a change: a change plans the same tables itself (for the leases it keeps), and a sync runs
 * after every change, so a lease that came meanwhile is caught up.
 *
 * A sync's undo is the batch's inverse: a failing batch is followed by a forced one that puts the
 * tables it touched back as they were before it. No journal: these tables are derived from the
 * leases and the running config alone, so the sync at the next start (or lease) repairs what a
 * crash in the middle left.
 *
 *   const routes = new LeaseRoutes({ ipr, current, config: () => store.running(), learned, log });
 *   const changer = routes.wrap(otherChanger);
 *   clients.onLease → routes.leaseChanged(dev);  await routes.start();   // after the clients are adopted
 */
import type { Logger } from 'pino';
import type { NetworkChanger } from '../model/changer.js';
import { Lane } from '../model/concurrency.js';
import type { KernelState } from '../model/kernel-state.js';
import type { HostConfig } from '../model/types.js';
import type { Op } from '../model/op.js';
import { executePlan } from '../kernel/executor.js';
import { resetFaults } from '../faults.js';
import type { Iproute } from '../kernel/iproute.js';
import { learnedSourceOps } from '../plan/desired.js';
import { diffSourceRouting, sourceRoutingOf, type Learned } from '../plan/source-routes.js';

export interface LeaseRoutesOptions {
  ipr: Iproute;
  /** the kernel as it is now (the daemon's view after a barrier) */
  current: () => Promise<KernelState>;
  config: () => HostConfig;
  learned: Learned;
  log: Logger;
}

export class LeaseRoutes {
  private readonly lane = new Lane();
  /** setupNetworks calls in progress: a sync waits for the one that follows them */
  private changing = 0;
  private queued = false;
  /** leases read before start() are the start's to sync: one by one, the first would drop the tables of the others not read yet */
  private started = false;
  /**
   * The config and kernel state (frozen objects) a sync last found nothing to do for: the same pair
   * needs nothing again until a lease changes (the engine's periodic identical request).
   */
  private quiet: { config: HostConfig; state: KernelState } | undefined;

  constructor(private readonly o: LeaseRoutesOptions) {}

  /** Once the clients are adopted with their leases: the first sync, and leases count from now on. */
  start(): Promise<void> {
    this.started = true;
    return this.sync('start');
  }

  /** A lease of `dev` was gained, changed or lost. */
  leaseChanged(dev: string): void {
    this.quiet = undefined;
    if (this.started) void this.sync(`lease ${dev}`).catch(() => undefined);
  }

  /** The changer, never running together with a sync, and followed by one. */
  wrap(changer: NetworkChanger): NetworkChanger {
    return {
      setup: async (request, ctx) => {
        this.changing++;
        try {
          await this.lane.idle();
          await changer.setup(request, ctx);
        } finally {
          this.changing--;
          void this.sync('setupNetworks').catch(() => undefined);
        }
      },
      setSafe: (ctx) => changer.setSafe(ctx),
    };
  }

  /** Brings the DHCP networks' tables in step with their leases; a failure is logged (and thrown). */
  private sync(why: string): Promise<void> {
    if (this.queued) return this.lane.idle();
    this.queued = true;
    return this.lane.run(async () => {
      this.queued = false;
      if (this.changing > 0) return;
      try {
        await this.syncNow(why);
      } catch (err) {
        this.o.log.error({ event: 'dhcp-routes-failed', why, err: (err as Error).message }, 'could not bring the DHCP networks\' source routes in step');
        throw err;
      }
    });
  }

  private async syncNow(why: string): Promise<void> {
    // a sync is a change of its own for the test-only fault points: its batch is `lease-batch` 1,
    // its undo 2 (a point of its own, so that a change's trace never holds a sync's batch)
    resetFaults();
    const config = this.o.config();
    // the tables a sync owns are those of DHCP networks: without one there is nothing to read or do
    // (a removed DHCP network's table went with the change that removed it)
    if (!Object.values(config.networks).some((n) => n.bootproto === 'dhcp')) return;
    const before = await this.o.current();
    if (this.quiet?.config === config && this.quiet.state === before) return;
    const exists = (d: string) => d in before.links;
    const ops = learnedSourceOps(config, exists, this.o.learned, before);
    this.quiet = ops.length === 0 ? { config, state: before } : undefined;
    if (ops.length === 0) return;
    try {
      await executePlan(this.o.ipr, ops, { faultPoint: 'lease-batch' });
    } catch (err) {
      await this.undo(before, ops).catch((e: unknown) =>
        this.o.log.error({ event: 'undo-failed', step: 'dhcp-routes', err: (e as Error).message }, 'could not put the DHCP source routes back'));
      throw err;
    }
    this.o.log.info({ event: 'dhcp-routes', why, ops: ops.map(describe) }, 'DHCP networks\' source routes follow their leases');
  }

  /** The tables the failed batch touched, back to `before`. */
  private async undo(before: KernelState, ops: readonly Op[]): Promise<void> {
    const devices = [...new Set(ops.map((op) => ('dev' in op ? op.dev : '')).filter(Boolean))];
    const back: Op[] = [];
    diffSourceRouting(sourceRoutingOf(before, devices), await this.o.current(), new Set(), new Set(), (_, op) => back.push(op));
    await executePlan(this.o.ipr, back, { force: true, faultPoint: 'lease-batch' });
  }
}

function describe(op: Op): string {
  if (op.op === 'rule-add' || op.op === 'rule-del') return `${op.op} from ${op.src} table ${op.table}`;
  if (op.op === 'table-route-replace' || op.op === 'table-route-del') return `${op.op} ${op.dst}${op.gateway ? ` via ${op.gateway}` : ''} dev ${op.dev} table ${op.table}`;
  return op.op;
}
