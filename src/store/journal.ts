/**
 * The write-ahead journal of the setup in progress, <stateDir>/journal.jsonl.
 *
 * `begin` makes the whole entry durable (config and kernel state before, desired config, the
 * devices the transaction may touch) before the caller changes anything. If the daemon is
 * killed mid-setup, the next start finds the entry with `pending()` and rolls the host back to
 * `before`. `clear()` durably removes it once the transaction has committed or rolled back.
 *
 * The file is JSON lines (store/schema.ts declares each kind); this version writes only the
 * first, atomically:
 *   {"type":"begin","version":1,"id":"…","startedAt":"…","phase":"applying","before":{…},"desired":{…},"touched":["br0"]}
 * Earlier versions appended a line at each phase ({"type":"phase","phase":"verifying","at":"…"}),
 * an fsync each, although recovery rolls back the same way from any phase. Such lines are still
 * read (a change interrupted across an upgrade), and a torn last one is ignored.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { ErrorCode, HostnetError } from '../errors.js';
import type { z } from 'zod';
import type { KernelState } from '../model/kernel-state.js';
import type { HostConfig } from '../model/types.js';
import { errnoOf, unlinkDurable, writeFileAtomic } from './atomic.js';
import {
  JOURNAL_PHASES, JournalBeginSchema, JournalLineSchema, describeIssues, withLegacyType, type JournalPhase,
} from './schema.js';

export { JOURNAL_PHASES };

/** The transaction a journal records: its first line, without the line's `type`. */
export type JournalEntry = Omit<z.output<typeof JournalBeginSchema>, 'type' | 'before'> & {
  /** config and kernel state of the touched devices before the change (the kernel part is declared loose) */
  before: Omit<z.output<typeof JournalBeginSchema>['before'], 'config' | 'kernel' | 'safe'> & {
    config: HostConfig;
    kernel: KernelState;
    safe?: HostConfig;
  };
};

export const JOURNAL_FILE = 'journal.jsonl';

export const newJournalId = (): string => randomUUID();

const isPhase = (v: unknown): v is JournalPhase => (JOURNAL_PHASES as readonly unknown[]).includes(v);

const entryLine = (entry: JournalEntry): string => JSON.stringify({ type: 'begin', ...entry }) + '\n';

export class Journal {
  readonly path: string;
  constructor(readonly stateDir: string) {
    this.path = path.join(path.resolve(stateDir), JOURNAL_FILE);
  }

  /** Record a transaction durably. Refuses while another one is pending: its rollback data would be lost. */
  async begin(entry: JournalEntry): Promise<void> {
    if (entry.version !== 1 || !isPhase(entry.phase)) {
      throw new HostnetError(ErrorCode.STORE_FAILED, `journal entry ${entry.id} has an unknown version or phase`);
    }
    if (await exists(this.path)) {
      throw new HostnetError(
        ErrorCode.STORE_FAILED,
        `cannot begin transaction ${entry.id}: an unfinished one is recorded in ${this.path}; settle it first`,
      );
    }
    const line = entryLine(entry);
    await this.guard('write', async () => {
      try {
        await writeFileAtomic(this.path, line);
      } catch (e) {
        // the rename may have happened (a failed directory fsync): no journal may outlive a failed begin
        await unlinkDurable(this.path).catch(() => undefined);
        throw e;
      }
    });
  }

  /** Durably forget the transaction (it committed or was rolled back). */
  async clear(): Promise<void> {
    await this.guard('remove', () => unlinkDurable(this.path));
  }

  /** The unfinished transaction, or null. An unreadable journal is a HostnetError naming the file. */
  async pending(): Promise<JournalEntry | null> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return null;
      throw unreadable(this.path, (e as Error).message);
    }
    return cloneEntry(parseJournalText(text, this.path));
  }

  private async guard(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (e instanceof HostnetError) throw e;
      throw new HostnetError(ErrorCode.STORE_FAILED, `cannot ${what} journal ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** Parse the journal's text: the entry line, then (written by earlier versions) phase lines; a torn last line is ignored. */
function parseJournalText(text: string, file: string): JournalEntry {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let entry: JournalEntry | null = null;
  for (let i = 0; i < lines.length; i++) {
    // only the very last, unterminated line can be torn by a crash during an append
    const mayBeTorn = i > 0 && i === lines.length - 1 && !text.endsWith('\n');
    let value: unknown;
    try {
      value = JSON.parse(lines[i]!);
    } catch (e) {
      if (mayBeTorn) continue;
      throw unreadable(file, `line ${i + 1} is not valid JSON (${(e as Error).message})`);
    }
    const r = JournalLineSchema.safeParse(withLegacyType(value));
    if (!r.success) {
      if (mayBeTorn) continue;
      throw unreadable(file, `line ${i + 1}: ${describeIssues(r.error)}`);
    }
    const line = r.data;
    if (i === 0) {
      if (line.type !== 'begin') throw unreadable(file, `line 1 is a '${line.type}' record, not the transaction`);
      const { type: _t, ...rest } = line;
      entry = rest;
      continue;
    }
    switch (line.type) {
      case 'phase':
        entry!.phase = line.phase;
        break;
      case 'begin':
        throw unreadable(file, `line ${i + 1} begins a second transaction`);
    }
  }
  if (!entry) throw unreadable(file, 'it is empty');
  return entry;
}

/** A deep copy with the same null-prototype tables (structuredClone would give plain objects). */
function cloneEntry(entry: JournalEntry): JournalEntry {
  const { type: _t, ...copy } = JournalBeginSchema.parse(JSON.parse(entryLine(entry)));
  return copy;
}

function unreadable(file: string, why: string): HostnetError {
  return new HostnetError(
    ErrorCode.STORE_FAILED,
    `journal ${file} is unreadable: ${why}; the unfinished transaction it records cannot be rolled back automatically`,
  );
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return false;
    throw e;
  }
}
