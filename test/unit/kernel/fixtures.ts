/** Load a captured iproute2 scenario (fixtures/iproute2/<scenario>/) and parse it. */
import { readFileSync } from 'node:fs';
import { parseKernelState, type RawDumps } from '../../../src/kernel/parse.js';
import type { KernelState } from '../../../src/model/kernel-state.js';

const FILES = ['link', 'addr', 'route4', 'route6', 'fdb'] as const;

export function fixtureDir(scenario: string): URL {
  return new URL(`../../../fixtures/iproute2/${scenario}/`, import.meta.url);
}

export function rawDumps(scenario: string): RawDumps {
  const dir = fixtureDir(scenario);
  const read = (f: string): unknown => {
    const text = readFileSync(new URL(`${f}.json`, dir), 'utf8').trim();
    return text.length > 0 ? JSON.parse(text) : [];
  };
  return Object.fromEntries(FILES.map((f) => [f, read(f)])) as unknown as RawDumps;
}

export function fixtureState(scenario: string, takenAt = 1_700_000_000_000): KernelState {
  return parseKernelState(rawDumps(scenario), takenAt);
}
