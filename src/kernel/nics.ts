/**
 * Which links are NICs. A NIC is a hardware device (no linkinfo kind, a parent bus) or any
 * link whose name matches one of the --fake-nics globs (veth_* in tests), as VDSM's
 * fake_nics option. Bridges, bonds and vlans are never NICs, whatever their name.
 */
import type { KernelLink, KernelState } from '../model/kernel-state.js';

/** A glob with `*` (any run of characters, including none) and `?` (one character). */
export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 's');
}

/** Compile once, match many: the capabilities report tests every link against every glob. */
export function globMatcher(globs: readonly string[]): (name: string) => boolean {
  if (globs.length === 0) return () => false;
  const res = globs.map(globToRegExp);
  return (name) => res.some((re) => re.test(name));
}

const NEVER_NIC = new Set(['bridge', 'bond', 'vlan', 'loopback']);

export function isPhysicalNic(link: KernelLink): boolean {
  return link.kind === 'device' && link.parentBus !== undefined;
}

export function isNic(link: KernelLink, isFake: (name: string) => boolean): boolean {
  if (NEVER_NIC.has(link.kind)) return false;
  return isPhysicalNic(link) || isFake(link.name);
}

/** The last answer per state object: the view hands out one frozen rendering until the kernel changes. */
const nicsOf = new WeakMap<KernelState, { globs: string; nics: ReadonlySet<string> }>();

/**
 * The NICs of a snapshot, for validation (a network's nic, a bond's slaves). Remembered per state
 * object, so the engine's periodic identical request does not scan every link again (~1 ms at
 * 2000 links).
 */
export function nicNames(state: KernelState, fakeNicGlobs: readonly string[]): ReadonlySet<string> {
  const globs = fakeNicGlobs.join('\n');
  const known = nicsOf.get(state);
  if (known?.globs === globs) return known.nics;
  const isFake = globMatcher(fakeNicGlobs);
  const nics = new Set(Object.values(state.links).filter((l) => isNic(l, isFake)).map((l) => l.name));
  nicsOf.set(state, { globs, nics });
  return nics;
}
