/**
 * Cross-entity rules on the merged desired config, checked against the kernel before anything
 * is touched: devices exist, no device is used twice, bonds are known, one default route.
 * Pure: the kernel facts come in as data.
 */
import { badBonding, badNic, badParams, usedBond, usedNic } from '../errors.js';
import { getKey, hasKey } from '../model/dict.js';
import type { HostConfig, Network } from '../model/types.js';
import type { KernelFeatures } from '../model/kernel-state.js';
import { isRemoval, type CanonicalRequest } from '../model/request.js';

export interface KernelFacts {
  /** NICs present (physical and fake) */
  nics: ReadonlySet<string>;
  /** bonds present in the kernel */
  bonds: ReadonlySet<string>;
  /** what the kernel can do; absent: not checked (the boot-time restore replays what existed) */
  features?: Pick<KernelFeatures, 'bonding' | 'vlan'>;
  /** VLAN devices in the kernel by their base device */
  vlansOn?: ReadonlyMap<string, readonly string[]>;
}

export function validateTopology(desired: HostConfig, running: HostConfig, req: CanonicalRequest, kernel: KernelFacts): void {
  checkPortIsolationFixed(running, req);
  checkBondRemovals(desired, req);
  const slaveOf = checkBonds(desired, req, kernel);
  checkForeignVlans(desired, running, req, kernel);
  checkNetworkDevices(desired, req, kernel, slaveOf);
  // last: a request wrong in itself gets that error on any kernel
  checkKernelFeatures(desired, req, kernel);
}

/**
 * A VLAN or a bond this kernel cannot make is refused before anything is touched (iproute2 would
 * refuse it half way through the batch). Only what the request names: a running entity exists.
 */
function checkKernelFeatures(desired: HostConfig, req: CanonicalRequest, kernel: KernelFacts): void {
  const f = kernel.features;
  if (f === undefined) return;
  for (const net of Object.values(desired.networks)) {
    if (!hasKey(req.networks, net.name)) continue;
    if (net.vlan !== undefined && !f.vlan) {
      throw badParams(`network '${net.name}': vlan ${net.vlan} needs the kernel's 802.1Q VLAN support (module 8021q), which this kernel lacks`);
    }
    if (net.bonding !== undefined && !f.bonding) {
      throw badParams(`network '${net.name}': bonding '${net.bonding}' needs the kernel's bonding support (module bonding), which this kernel lacks`);
    }
  }
  for (const bond of Object.values(desired.bonds)) {
    if (hasKey(req.bonds, bond.name) && !f.bonding) {
      throw badParams(`bond '${bond.name}': bonds need the kernel's bonding support (module bonding), which this kernel lacks`);
    }
  }
}

/**
 * A NIC enslaved to a bond must not be the base of a VLAN device hostnetd does not manage
 * (reference: 24, "a bond slave carries a foreign VLAN"): the VLAN would silently lose its link.
 */
function checkForeignVlans(desired: HostConfig, running: HostConfig, req: CanonicalRequest, kernel: KernelFacts): void {
  if (kernel.vlansOn === undefined) return;
  const managed = new Set<string>();
  for (const net of [...Object.values(running.networks), ...Object.values(desired.networks)]) {
    const dev = net.nic ?? net.bonding;
    if (dev !== undefined && net.vlan !== undefined) managed.add(`${dev}.${net.vlan}`);
  }
  for (const bond of Object.values(desired.bonds)) {
    if (!hasKey(req.bonds, bond.name)) continue;
    for (const nic of bond.nics) {
      const foreign = (kernel.vlansOn.get(nic) ?? []).filter((v) => !managed.has(v));
      if (foreign.length) {
        throw usedNic(`bond '${bond.name}': NIC '${nic}' carries VLAN device ${foreign.map((v) => `'${v}'`).join(', ')} that hostnetd does not manage; a bond slave cannot carry a foreign VLAN (delete it first)`);
      }
    }
  }
}

function checkPortIsolationFixed(running: HostConfig, req: CanonicalRequest): void {
  for (const [name, net] of Object.entries(req.networks)) {
    const old = getKey(running.networks, name);
    if (!old || isRemoval(net)) continue;
    if (old.portIsolation !== net.portIsolation) {
      throw badParams(
        `network '${name}': 'portIsolation' is fixed at creation (is ${old.portIsolation}); remove the network and add it again to change it`,
      );
    }
  }
}

function checkBondRemovals(desired: HostConfig, req: CanonicalRequest): void {
  for (const [name, bond] of Object.entries(req.bonds)) {
    if (!isRemoval(bond)) continue;
    const users = Object.values(desired.networks).filter((n) => n.bonding === name).map((n) => n.name);
    if (users.length) throw usedBond(`bond '${name}': cannot remove it, used by network ${users.join(', ')}`);
  }
}

/** Returns slave NIC → its bond. */
function checkBonds(desired: HostConfig, req: CanonicalRequest, kernel: KernelFacts): Map<string, string> {
  const slaveOf = new Map<string, string>();
  for (const bond of Object.values(desired.bonds)) {
    for (const nic of bond.nics) {
      if (!kernel.nics.has(nic)) {
        if (hasKey(req.bonds, bond.name)) throw badNic(`bond '${bond.name}': nics: no NIC '${nic}' on this host`);
        continue; // a bond of the running config whose NIC vanished: reported, not fatal to others
      }
      const other = slaveOf.get(nic);
      if (other) throw usedNic(`NIC '${nic}' is a slave of both bond '${other}' and bond '${bond.name}'`);
      slaveOf.set(nic, bond.name);
    }
  }
  return slaveOf;
}

function checkNetworkDevices(desired: HostConfig, req: CanonicalRequest, kernel: KernelFacts, slaveOf: Map<string, string>): void {
  const carriers = new Map<string, string>();
  for (const net of Object.values(desired.networks)) {
    const asked = hasKey(req.networks, net.name);
    const where = `network '${net.name}'`;
    if (net.nic !== undefined) {
      if (!kernel.nics.has(net.nic)) {
        if (asked) throw badNic(`${where}: nic: no NIC '${net.nic}' on this host`);
      } else if (slaveOf.has(net.nic)) {
        throw usedNic(`${where}: NIC '${net.nic}' is a slave of bond '${slaveOf.get(net.nic)}' and cannot carry a network`);
      }
    }
    if (net.bonding !== undefined && !hasKey(desired.bonds, net.bonding) && !kernel.bonds.has(net.bonding)) {
      throw badBonding(`${where}: bonding: no bond '${net.bonding}' in the request or on this host`);
    }
    const key = carrierKey(net);
    if (key === null) continue;
    const other = carriers.get(key);
    if (other) {
      const dev = net.nic ?? net.bonding;
      const tag = net.vlan === undefined ? 'untagged' : `vlan ${net.vlan}`;
      throw badParams(`${where}: device '${dev}' (${tag}) already carries network '${other}'`);
    }
    carriers.set(key, net.name);
  }
}

function carrierKey(net: Network): string | null {
  const dev = net.nic ?? net.bonding;
  return dev === undefined ? null : `${dev}\0${net.vlan ?? ''}`;
}
