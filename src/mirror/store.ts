/**
 * mirrors.json in the state directory: which taps mirror which network, so mirrors survive a
 * daemon restart. Written last in a mirror change (after the kernel is verified), atomically.
 *
 *   {"version": 1, "mirrors": {"vmnet": ["vnet3", "vnet7"]}}
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic.js';
import { bridgeNameProblem, isValidIfname } from '../model/names.js';

export const MIRRORS_FILE = 'mirrors.json';
const VERSION = 1;

/** network → its mirror taps (sorted, no duplicates) */
export type MirrorTable = Map<string, string[]>;

/** The one schema of mirrors.json; throws naming the file and what is wrong. */
export function parseMirrors(text: string, file: string): MirrorTable {
  const bad = (why: string) => new Error(`${file}: ${why}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('must be an object');
  const keys = Object.keys(doc).sort().join(',');
  if (keys !== 'mirrors,version') throw bad(`must have exactly the keys version and mirrors, got ${keys || 'none'}`);
  const { version, mirrors } = doc as { version: unknown; mirrors: unknown };
  if (version !== VERSION) throw bad(`version must be ${VERSION}, got ${JSON.stringify(version)}`);
  if (typeof mirrors !== 'object' || mirrors === null || Array.isArray(mirrors)) throw bad('mirrors must be an object');
  const table: MirrorTable = new Map();
  for (const [net, taps] of Object.entries(mirrors)) {
    const problem = bridgeNameProblem(net);
    if (problem !== null) throw bad(`network name '${net}' ${problem}`);
    if (!Array.isArray(taps) || taps.length === 0 || !taps.every(isValidIfname)) {
      throw bad(`mirrors.${net} must be a non-empty list of interface names`);
    }
    table.set(net, [...new Set(taps as string[])].sort());
  }
  return table;
}

export function mirrorsText(table: MirrorTable): string {
  const mirrors = Object.create(null) as Record<string, string[]>;
  for (const [net, taps] of [...table].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) if (taps.length) mirrors[net] = taps;
  return `${JSON.stringify({ version: VERSION, mirrors }, null, 2)}\n`;
}

export async function loadMirrors(stateDir: string): Promise<MirrorTable> {
  const file = join(stateDir, MIRRORS_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw e;
  }
  return parseMirrors(text, file);
}

export async function saveMirrors(stateDir: string, table: MirrorTable): Promise<void> {
  await writeFileAtomic(join(stateDir, MIRRORS_FILE), mirrorsText(table));
}
