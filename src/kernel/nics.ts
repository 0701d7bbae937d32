/**
 * Which links are NICs: physical devices (no linkinfo kind, not loopback) and the devices that
 * match the --fake-nics globs (as VDSM's fake_nics: veth pairs stand in for NICs in tests).
 */
import type { KernelLink, KernelState } from './types.js';

/** A shell-style glob with `*` and `?` only. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export function nicMatcher(fakeNicGlobs: readonly string[]): (link: KernelLink) => boolean {
  const fakes = fakeNicGlobs.map(globToRegExp);
  return (link) => {
    if (fakes.some((re) => re.test(link.name))) return true;
    return link.kind === 'device' && link.name !== 'lo';
  };
}

export function nicNames(state: KernelState, fakeNicGlobs: readonly string[]): Set<string> {
  const isNic = nicMatcher(fakeNicGlobs);
  return new Set(Object.values(state.links).filter(isNic).map((l) => l.name));
}
