/**
 * A NIC has one manager. Before a setupNetworks names a NIC (a network's `nic`, a bond's
 * `nics`), it must not be managed by NetworkManager nor have a DHCP client that hostnetd did not
 * start: otherwise both would configure it and fight. Refused with 21, naming the NIC and its
 * owner, before anything is touched (README, "Taking over a host").
 */
import { badParams } from '../errors.js';
import type { HostConfig, SetupRequest } from '../model/types.js';
import type { NetworkChanger } from '../model/changer.js';
import type { DhcpClientProcess } from '../kernel/owners.js';
import { isPlainObject } from '../model/dict.js';

export interface NicOwnerSources {
  /** NetworkManager's device → state, undefined when it is not running */
  networkManager(): Promise<ReadonlyMap<string, string> | undefined>;
  dhcpClients(): Promise<DhcpClientProcess[]>;
  /** pids of the DHCP clients hostnetd itself runs outside systemd (pid files under --run-dir) */
  ownDhcpPids?(): ReadonlySet<number>;
  /** NICs the running config already uses: checked when hostnetd took them, not on every request */
  managedNics?(): ReadonlySet<string>;
}

/** Pure: where each NIC of the request is named, e.g. eth0 → "network 'mgmt'". */
export function requestedNics(request: SetupRequest): Map<string, string> {
  const nics = new Map<string, string>();
  const entries = (o: unknown) => (isPlainObject(o) ? Object.entries(o) : []);
  for (const [name, attrs] of entries(request.networks)) {
    const a = attrs as { nic?: unknown; remove?: unknown } | null;
    if (a && a.remove !== true && typeof a.nic === 'string' && !nics.has(a.nic)) nics.set(a.nic, `network '${name}': nic`);
  }
  for (const [name, attrs] of entries(request.bondings)) {
    const a = attrs as { nics?: unknown; remove?: unknown } | null;
    if (!a || a.remove === true || !Array.isArray(a.nics)) continue;
    for (const nic of a.nics) if (typeof nic === 'string' && !nics.has(nic)) nics.set(nic, `bond '${name}': nics`);
  }
  return nics;
}

/** Pure: the NICs a config uses (networks' `nic`, bonds' `nics`). */
export function configNics(cfg: HostConfig): Set<string> {
  const nics = new Set<string>();
  for (const net of Object.values(cfg.networks)) if (net.nic !== undefined) nics.add(net.nic);
  for (const bond of Object.values(cfg.bonds)) for (const nic of bond.nics) nics.add(nic);
  return nics;
}

/** hostnetd's own DHCP clients: in units whose cgroup path names hostnetd, or pids it started. */
const isOurs = (p: DhcpClientProcess, own: ReadonlySet<number>) => /hostnetd/.test(p.cgroup) || own.has(p.pid);

/** Pure: the first conflict as a refusal message, or undefined. */
export function ownerConflict(nics: ReadonlyMap<string, string>, nm: ReadonlyMap<string, string> | undefined, clients: readonly DhcpClientProcess[],
  own: ReadonlySet<number> = new Set()): string | undefined {
  for (const [nic, where] of nics) {
    const state = nm?.get(nic);
    if (state !== undefined && !state.startsWith('unmanaged')) {
      return `${where} ${nic} is managed by NetworkManager (state ${state}); hand it over first: nmcli device set ${nic} managed no (README, "Taking over a host")`;
    }
    const client = clients.find((p) => !isOurs(p, own) && p.args.includes(nic));
    if (client) {
      return `${where} ${nic} has a DHCP client hostnetd did not start: ${client.program} (pid ${client.pid}); stop it first (ifdown ${nic}, or the service that runs it) (README, "Taking over a host")`;
    }
  }
  return undefined;
}

/** Wraps a changer: a request naming a NIC another manager owns is refused with 21. */
export function refuseForeignNics(changer: NetworkChanger, sources: NicOwnerSources): NetworkChanger {
  return {
    setSafe: (ctx) => changer.setSafe(ctx),
    async setup(request, ctx) {
      const nics = requestedNics(request);
      const managed = sources.managedNics?.();
      if (managed) for (const nic of managed) nics.delete(nic);
      if (nics.size > 0) {
        const [nm, clients] = await Promise.all([sources.networkManager(), sources.dhcpClients()]);
        const conflict = ownerConflict(nics, nm, clients, sources.ownDhcpPids?.());
        if (conflict) throw badParams(conflict);
      }
      return changer.setup(request, ctx);
    },
  };
}
