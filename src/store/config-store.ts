/**
 * The running and the safe configuration, as VDSM keeps them: running is what the last
 * successful setup left, safe is what `restore` brings back at boot.
 *
 * Each is one human-readable JSON document, <stateDir>/running.json and <stateDir>/safe.json:
 *   {
 *     "version": 1,
 *     "networks": { "ovirtmgmt": { "bridged": true, "mtu": 1500, "name": "ovirtmgmt", ... } },
 *     "bonds": {}
 *   }
 * Keys are sorted at every level, so a file's text is a function of the configuration alone:
 * diffs between two files are meaningful and `isDirty` is a string comparison.
 * One document (rather than VDSM's file per network) makes a commit one atomic replacement:
 * one fsync of the file and one of the directory, whether it holds 1 network or 1000.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCode, HostnetError } from '../errors.js';
import type { HostConfig } from '../model/types.js';
import { deepFreeze } from '../model/freeze.js';
import { emptyConfig } from '../model/types.js';
import { errnoOf, fsyncDir, readTextIfExists, removeStaleTmpFiles, writeFileAtomic } from './atomic.js';
import { sortKeysDeep } from '../model/canonical.js';
import { CONFIG_FORMAT_VERSION, ConfigFileSchema, describeIssues } from './schema.js';
import { Lane } from '../model/concurrency.js';

export { CONFIG_FORMAT_VERSION };
export const RUNNING_FILE = 'running.json';
export const SAFE_FILE = 'safe.json';

/** The serialized form of one configuration: what is written and what isDirty compares. */
export function serializeConfig(cfg: HostConfig): string {
  const doc = {
    version: CONFIG_FORMAT_VERSION,
    networks: sortKeysDeep(cfg.networks),
    bonds: sortKeysDeep(cfg.bonds),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/**
 * Parse a config file's text against ConfigFileSchema; `file` names it in errors. Anything
 * else is refused with 103 naming the file and the field, and the file is left as it is.
 */
export function parseConfig(text: string, file: string): HostConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw corrupt(file, `not valid JSON (${(e as Error).message})`);
  }
  const version = typeof doc === 'object' && doc !== null ? (doc as { version?: unknown }).version : undefined;
  if (typeof version === 'number' && Number.isInteger(version) && version > CONFIG_FORMAT_VERSION) {
    throw new HostnetError(
      ErrorCode.STORE_FAILED,
      `${file} has format version ${String(version)}, written by a newer hostnetd; this one reads up to version ${CONFIG_FORMAT_VERSION} and will not touch it`,
    );
  }
  const r = ConfigFileSchema.safeParse(doc);
  if (!r.success) throw corrupt(file, describeIssues(r.error));
  return { networks: r.data.networks, bonds: r.data.bonds };
}

function corrupt(file: string, why: string): HostnetError {
  return new HostnetError(
    ErrorCode.STORE_FAILED,
    `${file} is corrupt: ${why}; hostnetd will not overwrite it, repair or remove it by hand`,
  );
}

/** Read a config file, with its text as found (null: absent); a missing file is the empty configuration. */
async function readConfigFile(file: string): Promise<{ cfg: HostConfig; onDisk: string | null }> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return { cfg: emptyConfig(), onDisk: null };
    throw new HostnetError(ErrorCode.STORE_FAILED, `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  return { cfg: parseConfig(text, file), onDisk: text };
}

/** The config must be a name -> entry map keyed by each entry's own name; anything else is a bug upstream. */
function checkShape(cfg: HostConfig): void {
  for (const [kind, map] of [['network', cfg.networks], ['bond', cfg.bonds]] as const) {
    for (const [key, entry] of Object.entries(map)) {
      if (entry.name !== key) {
        throw new HostnetError(ErrorCode.STORE_FAILED, `refusing to store ${kind} "${key}" whose name is "${entry.name}"`);
      }
    }
  }
}

/** The text of a file whose write failed midway: matches no config, so the next commit rewrites it. */
const UNKNOWN = '';

/**
 * A config's file text, and the deep copy a restart would load from it: parsing our own text
 * back is exactly what the next start does, so a config the schema would refuse then is
 * refused now, before it is written.
 */
function storable(cfg: HostConfig, file: string): PreparedConfig {
  checkShape(cfg);
  const text = serializeConfig(cfg);
  return { text, copy: deepFreeze(parseConfig(text, file)) };
}

/** A config made ready to commit (ConfigStore.prepare): its file text and the frozen copy loaded from it. */
export interface PreparedConfig {
  readonly text: string;
  readonly copy: HostConfig;
}

export class ConfigStore {
  /** Writes are chained so that two commits never race on the same file. */
  /** one failed write must not block the next */
  private readonly writes = new Lane();
  /** Each file's text as last read or written (null: absent), to notice a change behind our back. */
  private readonly onDisk = new Map<string, string | null>();

  private constructor(
    readonly stateDir: string,
    private runningCfg: HostConfig,
    private runningText: string,
    private safeCfg: HostConfig,
    private safeText: string,
  ) {
    deepFreeze(runningCfg);
    deepFreeze(safeCfg);
  }

  get runningPath(): string {
    return path.join(this.stateDir, RUNNING_FILE);
  }

  get safePath(): string {
    return path.join(this.stateDir, SAFE_FILE);
  }

  /**
   * Load both configs. The caller is expected to hold the state lock (see lock.ts); temporary
   * files left by a crashed writer are removed here.
   */
  static async open(stateDir: string): Promise<ConfigStore> {
    const dir = path.resolve(stateDir);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await removeStaleTmpFiles(dir);
    const running = await readConfigFile(path.join(dir, RUNNING_FILE));
    const safe = await readConfigFile(path.join(dir, SAFE_FILE));
    const store = new ConfigStore(dir, running.cfg, serializeConfig(running.cfg), safe.cfg, serializeConfig(safe.cfg));
    store.onDisk.set(store.runningPath, running.onDisk);
    store.onDisk.set(store.safePath, safe.onDisk);
    return store;
  }

  /**
   * The running config, deeply frozen and shared (no copy: at 1000 networks a copy per read cost
   * more than planning); edit a cloneConfig() of it.
   */
  running(): HostConfig {
    return this.runningCfg;
  }

  safe(): HostConfig {
    return this.safeCfg;
  }

  /** Running differs from safe (key order and formatting do not count). */
  isDirty(): boolean {
    return this.runningText !== this.safeText;
  }

  /**
   * What commitRunning(cfg) computes before it writes (the text, and the copy checked against the
   * schema): pure CPU, ~50 ms at 1000 networks, so a change makes it while its batch runs in
   * another process, and its commit is then the write alone.
   */
  prepare(cfg: HostConfig): PreparedConfig {
    return storable(cfg, this.runningPath);
  }

  /**
   * Replace the running config durably; the in-memory copy changes only once the file has.
   * Committing the config already stored writes nothing (an idempotent request stays cheap).
   */
  async commitRunning(cfg: HostConfig | PreparedConfig): Promise<void> {
    const { text, copy } = 'text' in cfg ? cfg : storable(cfg, this.runningPath);
    await this.serialized(async () => {
      if (text === this.runningText) return;
      try {
        await this.write(this.runningPath, text);
      } catch (e) {
        this.runningText = UNKNOWN; // the rename may have happened: the next commit writes whatever it holds
        throw e;
      }
      this.runningCfg = copy;
      this.runningText = text;
    });
  }

  /** safe := running, atomically. */
  async makeSafe(): Promise<void> {
    await this.serialized(async () => {
      const text = this.runningText;
      try {
        await this.write(this.safePath, text);
      } catch (e) {
        this.safeText = UNKNOWN;
        throw e;
      }
      this.safeCfg = this.runningCfg; // never mutated in place: sharing is safe
      this.safeText = text;
    });
  }

  /** Put a safe config back (a failed change that was to make itself safe); nothing is written when it is in place. */
  async restoreSafe(cfg: HostConfig): Promise<void> {
    const { text, copy } = storable(cfg, this.safePath);
    await this.serialized(async () => {
      if (text === this.safeText) return;
      try {
        await this.write(this.safePath, text);
      } catch (e) {
        this.safeText = UNKNOWN;
        throw e;
      }
      this.safeCfg = copy;
      this.safeText = text;
    });
  }

  private async write(file: string, text: string): Promise<void> {
    try {
      await keepAsideIfChanged(file, this.onDisk.get(file) ?? null);
      await writeFileAtomic(file, text);
      this.onDisk.set(file, text);
    } catch (e) {
      // a write that failed after its rename (a directory fsync) left our own text there: it is
      // not a change behind our back, so the next write must not keep it aside
      const now = await fs.readFile(file, 'utf8').catch(() => undefined);
      if (now === text) this.onDisk.set(file, text);
      throw new HostnetError(ErrorCode.STORE_FAILED, `cannot write ${file}: ${(e as Error).message}`, { cause: e });
    }
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    return this.writes.run(fn);
  }
}

/**
 * A file changed behind hostnetd's back since it was loaded or last written (edited by hand,
 * damaged) is never replaced silently: it is renamed to <file>.refused-<time> first, and the
 * rename is durable before the new file is written.
 */
async function keepAsideIfChanged(file: string, known: string | null): Promise<string | null> {
  const current = await readTextIfExists(file);
  if (current === null || current === known) return null;
  const aside = `${file}.refused-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await fs.rename(file, aside);
  await fsyncDir(path.dirname(file));
  return aside;
}

