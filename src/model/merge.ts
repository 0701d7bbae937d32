/**
 * VDSM's merge rule: each network or bond named in a request replaces its running definition
 * whole (or is removed); the rest is untouched. A new defaultRoute holder takes the default
 * route, and with it the nameservers, from the old one.
 */
import { badBonding, badBridge } from '../errors.js';
import { isRemoval, type CanonicalRequest } from './request.js';
import { hasKey, toDict } from './dict.js';
import type { HostConfig } from './types.js';

export function mergeRequest(running: HostConfig, req: CanonicalRequest, kernelBonds: ReadonlySet<string>): HostConfig {
  // shallow: untouched entries keep their identity, so comparing configs stays cheap at scale
  const desired: HostConfig = { networks: toDict(running.networks), bonds: toDict(running.bonds) };
  for (const [name, net] of Object.entries(req.networks)) {
    if (isRemoval(net)) {
      if (!hasKey(desired.networks, name)) throw badBridge(`network '${name}': cannot remove it, no such network`);
      delete desired.networks[name];
    } else {
      desired.networks[name] = net;
    }
  }
  for (const [name, bond] of Object.entries(req.bonds)) {
    if (isRemoval(bond)) {
      // as VDSM: only bonds of the running config can be removed (an unmanaged one is adopted by naming it in a network first)
      if (!hasKey(desired.bonds, name)) {
        const why = kernelBonds.has(name) ? 'it is not managed by hostnetd (not in the running config)' : 'no such bond';
        throw badBonding(`bond '${name}': cannot remove it, ${why}`);
      }
      delete desired.bonds[name];
    } else {
      desired.bonds[name] = bond;
    }
  }
  const newHolder = Object.entries(req.networks).find(([, n]) => !isRemoval(n) && n.defaultRoute)?.[0];
  if (newHolder) {
    for (const net of Object.values(desired.networks)) {
      if (net.name !== newHolder && net.defaultRoute) {
        desired.networks[net.name] = { ...net, defaultRoute: false, nameservers: [] };
      }
    }
  }
  return desired;
}
