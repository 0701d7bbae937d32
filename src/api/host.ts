/**
 * The Host.* verbs. Reads (capabilities, statistics) gather one view of the host — a kernel
 * snapshot together with the running config and the resolver's nameservers — and render it
 * with the pure builders in caps/. Changes go to the NetworkChanger (the transaction engine).
 */
import type { Lease } from '../model/lease.js';
import type { RequestContext } from '../model/context.js';
import type { ConnectivityTracker } from '../apply/connectivity.js';
import type { NetworkChanger } from '../model/changer.js';
import type { CapsInput, NetworkCapabilities } from '../caps/types.js';
import type { LibvirtStatus } from '../model/libvirt-status.js';
import type { DeviceTc, KernelFeatures, KernelState } from '../model/kernel-state.js';
import type { HostConfig, SetupRequest } from '../model/types.js';
import { ErrorCode, HostnetError } from '../errors.js';
import { FreshCoalescer } from '../model/concurrency.js';
import { deepFreeze } from '../model/freeze.js';
import { progressSinkFor } from './progress.js';
import type { HostFacts } from '../kernel/host-facts.js';

/** What the verbs need from the rest of the daemon; the daemon wires the real ones, tests fakes. */
export interface HostApiDeps {
  /** one consistent snapshot of the managed namespace (what capabilities report) */
  readKernel(): Promise<KernelState>;
  /** links with their counters, read fresh (counters change without events) */
  readStats(): Promise<KernelState>;
  /** kernel features (detected once, at start) */
  features(): Promise<KernelFeatures>;
  /** traffic control of these devices (hostQos); absent: not reported */
  readTc?(state: KernelState, devices: string[]): Record<string, DeviceTc>;
  config: { running(): HostConfig; isDirty(): boolean };
  nameservers(): Promise<string[]>;
  libvirt(): LibvirtStatus;
  hostFacts(): Promise<HostFacts>;
  fakeNics: string[];
  version: string;
  connectivity: ConnectivityTracker;
  changer: NetworkChanger;
  /** port mirroring (Host.setPortMirroring); absent: the verbs answer 21 */
  mirrors?: {
    set(req: { network: unknown; tap: unknown }, ctx: RequestContext): Promise<void>;
    unset(req: { network: unknown; tap: unknown }, ctx: RequestContext): Promise<void>;
    status(): Record<string, string[]>;
  };
  buildNetworkCapabilities(input: CapsInput): NetworkCapabilities;
  /** changes whenever a lease is gained, changed or lost (capabilities are rebuilt then) */
  leaseVersion?(): number;
  /** the DHCP lease of a device, if a client runs there */
  leases?(dev: string): Lease | undefined;
  /** getNetworkStatistics' answer for a snapshot taken at `now` (ms): {network: {iface: {name, rx, tx, ...}}} */
  statistics(state: KernelState, now: number): Promise<{ network: Record<string, unknown> }>;
}

/** VDSM's success status. */
export const DONE = { code: 0, message: 'Done' } as const;

/** The device holding an address ('' when none does, as VDSM's getDeviceByIP). */
export function deviceWithAddress(state: KernelState, address: string | undefined): string {
  if (address === undefined) return '';
  return state.addresses.find((a) => a.local === address)?.ifname ?? '';
}

/** Everything one read is rendered from, gathered at one moment. */
interface HostView {
  input: CapsInput;
  takenAt: number;
}

export class HostApi {
  private readonly view: FreshCoalescer<HostView>;
  private capsMemo: { key: readonly unknown[]; caps: NetworkCapabilities } | undefined;
  private readonly stats: FreshCoalescer<KernelState>;

  constructor(private readonly deps: HostApiDeps) {
    this.view = new FreshCoalescer(() => this.gather());
    this.stats = new FreshCoalescer(() => this.deps.readStats());
  }

  async getNetworkCapabilities(_ctx?: RequestContext): Promise<NetworkCapabilities> {
    const { input } = await this.view.get();
    return this.networkCaps(input);
  }

  /**
   * Built once per state of the host and handed out frozen: the kernel view and the running
   * config are shared objects that change identity when they change, the rest is small enough
   * to compare as text. The RPC layer encodes a frozen answer once (rpc/codec.ts).
   */
  private networkCaps(input: CapsInput): NetworkCapabilities {
    const key = [input.state, input.running, `${input.netConfigDirty}|${input.nameservers.join(',')}|${JSON.stringify(input.libvirt)}|${JSON.stringify(input.mirrors ?? null)}|${this.deps.leaseVersion?.() ?? 0}`] as const;
    const memo = this.capsMemo;
    if (memo && memo.key.every((k, i) => k === key[i])) return memo.caps;
    const caps = deepFreeze(this.deps.buildNetworkCapabilities(input));
    this.capsMemo = { key, caps };
    return caps;
  }

  async getCapabilities(ctx?: RequestContext): Promise<Record<string, unknown>> {
    const [{ input }, facts] = await Promise.all([this.view.get(), this.deps.hostFacts()]);
    const net = this.networkCaps(input);
    // as VDSM's bridge adds it: the device holding the address the caller reached us on
    const lastClientIface = deviceWithAddress(input.state, ctx?.localAddress);
    return { ...facts, software_version: this.deps.version, ...net, lastClientIface };
  }

  async getNetworkStatistics(_ctx?: RequestContext): Promise<{ network: Record<string, unknown> }> {
    const state = await this.stats.get();
    return this.deps.statistics(state, state.takenAt);
  }

  ping2(): true {
    return true;
  }

  /** Deprecated by VDSM, kept because old engines use it; it confirms connectivity as well. */
  ping(): true {
    this.deps.connectivity.confirm();
    return true;
  }

  confirmConnectivity(): true {
    this.deps.connectivity.confirm();
    return true;
  }

  /**
   * VDSM's bridge answers setupNetworks with its status map; the engine reads it as one. A
   * requester subscribed to events hears the phases first (`|net|progress|<id>`).
   */
  async setupNetworks(request: SetupRequest, ctx: RequestContext): Promise<typeof DONE> {
    await this.deps.changer.setup(request, { ...ctx, progress: progressSinkFor(ctx) });
    return { ...DONE };
  }

  /** hostnetd's own: mirror every frame entering or leaving a network's bridge to a tap */
  async setPortMirroring(p: Record<string, unknown>, ctx: RequestContext): Promise<true> {
    await this.mirrorsOf('Host.setPortMirroring').set({ network: p.network, tap: p.tap }, ctx);
    return true;
  }

  async unsetPortMirroring(p: Record<string, unknown>, ctx: RequestContext): Promise<true> {
    await this.mirrorsOf('Host.unsetPortMirroring').unset({ network: p.network, tap: p.tap }, ctx);
    return true;
  }

  private mirrorsOf(verb: string): NonNullable<HostApiDeps['mirrors']> {
    if (!this.deps.mirrors) throw new HostnetError(ErrorCode.BAD_PARAMS, `${verb} is not supported by this hostnetd`);
    return this.deps.mirrors;
  }

  /** A WebSocket client opts in to `|net|host_conn|no_id` and the other notifications. */
  subscribeEvents(ctx: RequestContext): true {
    this.eventsOf(ctx).subscribe();
    return true;
  }

  unsubscribeEvents(ctx: RequestContext): true {
    this.eventsOf(ctx).unsubscribe();
    return true;
  }

  private eventsOf(ctx: RequestContext): NonNullable<RequestContext['events']> {
    if (!ctx.events) {
      throw new HostnetError(
        ErrorCode.BAD_PARAMS,
        `events cannot be delivered over ${ctx.transport ?? 'this transport'}: a STOMP client subscribes to jms.queue.events instead`,
      );
    }
    return ctx.events;
  }

  async setSafeNetworkConfig(ctx: RequestContext): Promise<true> {
    await this.deps.changer.setSafe(ctx);
    return true;
  }

  private async gather(): Promise<HostView> {
    // config first: a change that commits while the dumps run shows up as a kernel ahead of
    // the config, never as a config describing devices the snapshot predates
    const running = this.deps.config.running();
    const netConfigDirty = this.deps.config.isDirty();
    const [state, features, nameservers] = await Promise.all([
      this.deps.readKernel(),
      this.deps.features(),
      this.deps.nameservers(),
    ]);
    return {
      takenAt: state.takenAt,
      input: {
        state,
        running,
        netConfigDirty,
        features,
        fakeNics: this.deps.fakeNics,
        nameservers,
        version: this.deps.version,
        libvirt: this.deps.libvirt(),
        ...(this.deps.mirrors ? { mirrors: this.deps.mirrors.status() } : {}),
        ...(this.deps.leases ? { leases: this.deps.leases } : {}),
        ...(this.deps.readTc ? { tc: this.deps.readTc(state, qosDevices(running)) } : {}),
      },
    };
  }
}

/** the nics and bonds of networks with hostQos: where capabilities read tc */
function qosDevices(running: HostConfig): string[] {
  return Object.values(running.networks).filter((n) => n.hostQos).map((n) => (n.nic ?? n.bonding)!).filter((d) => d !== undefined);
}
