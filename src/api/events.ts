/**
 * The host's notifications to the engine. When a device of a managed network changes
 * operationally (carrier or operstate of its NIC, bond, bond slave, vlan device or bridge;
 * an address appearing or going), the engine must refresh the host's capabilities: VDSM
 * tells it with `|net|host_conn|no_id`, at most once a second. So do we.
 *
 *   const events = new NetworkEvents({ publish: (json) => server.notify(json), managed: () => devicesOf(store.running()) });
 *   events.deviceEvent('veth_0');   // the kernel view saw a link or address change of veth_0
 */
import type { HostConfig } from '../model/types.js';
import { networkDevices } from '../plan/desired.js';

export const NET_HOST_CONN_EVENT = '|net|host_conn|no_id';

export interface NetworkEventsOptions {
  /** sends one JSON-RPC notification text to every subscriber */
  publish(json: string): void;
  /** the devices whose changes concern the engine, now */
  managed(): ReadonlySet<string>;
  /** at most one notification per this many ms (default 1000, as VDSM) */
  minIntervalMs?: number;
  /** ms on the system's monotonic clock (notify_time is VDSM's monotonic time, not wall time) */
  now?: () => number;
}

/** CLOCK_MONOTONIC in ms, as VDSM's event_time(): comparable across processes on this host, immune to clock steps. */
export const monotonicMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

export class NetworkEvents {
  private lastSent = -Infinity;
  private pending: NodeJS.Timeout | undefined;
  private readonly minIntervalMs: number;
  private readonly now: () => number;

  constructor(private readonly o: NetworkEventsOptions) {
    this.minIntervalMs = o.minIntervalMs ?? 1000;
    this.now = o.now ?? monotonicMs;
  }

  /** A link or address of device `name` changed; a change of a managed device schedules a notification. */
  deviceEvent(name: string): void {
    if (this.pending) return;
    if (this.o.managed().has(name)) this.changed();
  }

  /** Something the engine should re-read changed (a lease, later): notify, coalesced. */
  changed(): void {
    if (this.pending) return;
    const wait = this.lastSent + this.minIntervalMs - this.now();
    if (wait <= 0) return this.send();
    this.pending = setTimeout(() => this.send(), wait);
    this.pending.unref();
  }

  stop(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
  }

  private send(): void {
    this.pending = undefined;
    this.lastSent = this.now();
    this.o.publish(JSON.stringify({ jsonrpc: '2.0', method: NET_HOST_CONN_EVENT, params: { notify_time: this.lastSent } }));
  }
}

// the view asks on every link and address event (16 000 during a change of 1000 networks): the
// running config is frozen and replaced on commit, so its set is computed once per config
const managedOf = new WeakMap<HostConfig, ReadonlySet<string>>();

/** Every device a managed network stands on: bridges, NICs, bonds and their slaves, vlan devices. */
export function managedDevices(config: HostConfig): ReadonlySet<string> {
  let devs = managedOf.get(config);
  if (devs === undefined) {
    devs = devicesOf(config);
    if (Object.isFrozen(config)) managedOf.set(config, devs);
  }
  return devs;
}

function devicesOf(config: HostConfig): ReadonlySet<string> {
  const devs = new Set<string>();
  for (const net of Object.values(config.networks)) {
    const d = networkDevices(net);
    devs.add(d.top);
    if (d.base !== undefined) devs.add(d.base);
    if (d.southbound !== undefined) devs.add(d.southbound);
    const bond = net.bonding !== undefined && Object.hasOwn(config.bonds, net.bonding) ? config.bonds[net.bonding] : undefined;
    for (const nic of bond?.nics ?? []) devs.add(nic);
  }
  return devs;
}
