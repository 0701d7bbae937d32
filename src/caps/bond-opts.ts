/**
 * Bond options as VDSM reports them in capabilities: the mode plus every option whose value
 * differs from what the kernel gives a fresh bond of that mode, each as its numeric string
 * ("mode": "4", "lacp_rate": "1"). Options the table (model/bond-options.ts) does not know are
 * left out rather than guessed.
 */
import type { BondInfo } from '../model/kernel-state.js';
import { bondModeNumber, defaultBondValue, numericBondValue } from '../model/bond-options.js';

export function bondCapsOpts(bond: BondInfo): Record<string, string> {
  const mode = bondModeNumber(bond.mode);
  const out: Record<string, string> = { mode };
  for (const [name, raw] of Object.entries(bond.opts)) {
    if (name === 'mode') continue;
    const def = defaultBondValue(name, mode);
    if (def === undefined) continue;
    const value = numericBondValue(name, raw);
    if (value !== def) out[name] = value;
  }
  return out;
}
