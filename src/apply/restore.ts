/**
 * Boot-time restore (`hostnetd restore`): settle an unfinished change, then make the kernel and
 * the running config match the safe config. Networks and bonds whose devices are gone are
 * skipped with a warning; running-but-not-safe networks are removed (they are absent from the
 * desired config, so the planner deletes their devices).
 */
import type { Logger } from 'pino';
import type { Iproute } from '../kernel/iproute.js';
import { nicNames } from '../kernel/nics.js';
import { readKernelState } from '../kernel/snapshot.js';
import type { KernelState } from '../model/kernel-state.js';
import { cloneConfig, emptyConfig, type HostConfig } from '../model/types.js';
import type { ConfigStore } from '../store/config-store.js';
import { validateTopology } from '../validate/topology.js';
import type { Transactions } from './transaction.js';
import { getKey, hasKey } from '../model/dict.js';
import type { DhcpClients } from '../dhcp/clients.js';
import { clientSpecs } from '../dhcp/spec.js';

export interface RestoreSummary {
  networks: string[];
  bonds: string[];
  skipped: { name: string; kind: 'network' | 'bond' | 'slave'; reason: string }[];
  recoveredJournal: boolean;
  ops: number;
  /** DHCP networks whose lease had not come within --dhcp-timeout (their clients keep trying) */
  dhcpPending: string[];
}

export async function restoreSafeConfig(
  tx: Transactions, deps: { ipr: Iproute; store: ConfigStore; fakeNics: string[]; dhcp?: DhcpClients; dhcpTimeoutMs?: number }, log: Logger,
): Promise<RestoreSummary> {
  const recoveredJournal = await tx.recover(log);
  const before = await readKernelState(deps.ipr, 'config');
  const { desired, skipped } = restorableConfig(deps.store.safe(), before, nicNames(before, deps.fakeNics));
  for (const s of skipped) log.warn({ event: 'restore-skip', ...s }, `skipping ${s.kind} ${s.name}: ${s.reason}`);
  const kernelBonds = new Set(Object.values(before.links).filter((l) => l.kind === 'bond').map((l) => l.name));
  validateTopology(desired, emptyConfig(), { networks: desired.networks, bonds: desired.bonds, options: noCheck, blockingDhcp: new Set() }, {
    nics: nicNames(before, deps.fakeNics), bonds: kernelBonds,
  });
  const result = await tx.apply(desired, deps.store.running(), before, noCheck, log);
  // the boot waits for leases at most --dhcp-timeout; a network still without one is reported, its client keeps trying
  const clients = [...clientSpecs(desired, (d) => d in before.links).values()];
  const missing = deps.dhcp && clients.length ? await deps.dhcp.waitLeases(clients, deps.dhcpTimeoutMs ?? 60_000) : [];
  const dhcpPending = clients.filter((c) => missing.includes(c.dev)).map((c) => c.network).sort();
  for (const n of dhcpPending) log.warn({ event: 'restore-dhcp-pending', network: n }, `network ${n} has no DHCP lease yet`);
  return {
    networks: Object.keys(desired.networks).sort(),
    bonds: Object.keys(desired.bonds).sort(),
    skipped,
    recoveredJournal,
    ops: result.ops,
    dhcpPending,
  };
}

const noCheck = { connectivityCheck: false, connectivityTimeout: 0, commitOnSuccess: false };

/** The safe config minus what cannot be built on this host now. Pure. */
export function restorableConfig(safe: HostConfig, state: KernelState, nics: ReadonlySet<string>) {
  const desired: HostConfig = cloneConfig(safe);
  const skipped: RestoreSummary['skipped'] = [];
  for (const bond of Object.values(desired.bonds)) {
    const gone = bond.nics.filter((n) => !nics.has(n));
    for (const n of gone) skipped.push({ name: `${bond.name}/${n}`, kind: 'slave', reason: `NIC ${n} is gone` });
    bond.nics = bond.nics.filter((n) => nics.has(n));
    if (bond.nics.length === 0) {
      delete desired.bonds[bond.name];
      skipped.push({ name: bond.name, kind: 'bond', reason: 'none of its NICs exist' });
    }
  }
  for (const net of Object.values(desired.networks)) {
    let reason: string | null = null;
    if (net.nic !== undefined && !nics.has(net.nic)) reason = `NIC ${net.nic} is gone`;
    if (net.bonding !== undefined && !hasKey(desired.bonds, net.bonding) && getKey(state.links, net.bonding)?.kind !== 'bond') {
      reason = `bond ${net.bonding} is gone`;
    }
    if (reason) {
      delete desired.networks[net.name];
      skipped.push({ name: net.name, kind: 'network', reason });
    }
  }
  return { desired, skipped };
}
