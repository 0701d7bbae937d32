/**
 * A network may name a bond that exists in the kernel but not in the config: it is adopted as
 * it is (its slaves, mode and non-default options), so it enters the running config and is
 * managed from then on; nothing about the bond itself changes.
 */
import type { KernelState } from '../model/kernel-state.js';
import type { HostConfig } from '../model/types.js';
import { kernelBondOptions } from '../plan/bond.js';
import { getKey, hasKey } from '../model/dict.js';

export function adoptBonds(desired: HostConfig, state: KernelState): void {
  for (const net of Object.values(desired.networks)) {
    const name = net.bonding;
    if (name === undefined || hasKey(desired.bonds, name)) continue;
    const bond = getKey(state.links, name);
    if (bond?.kind !== 'bond' || !bond.bond) continue;
    const nics = Object.values(state.links).filter((l) => l.master === name).map((l) => l.name).sort();
    desired.bonds[name] = { name, nics, options: kernelBondOptions(bond.bond) };
  }
}
