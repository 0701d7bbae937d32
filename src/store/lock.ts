/**
 * One process per state directory: the daemon or `hostnetd restore`, never both.
 *
 * Node has no flock(2), so the lock is a file, <stateDir>/hostnetd.lock, holding
 *   {"pid": 1234, "who": "daemon", "startedAt": "2026-...Z", "procStart": "81234", "bootId": "…", "nonce": "…"}
 * It is created exclusively: the record is written to a private temporary file which is then
 * link(2)ed to the lock name. link fails with EEXIST like O_EXCL does, and unlike a bare
 * `open(wx)` + write it never exposes a half-written lock to a concurrent reader.
 *
 * A lock whose holder is gone is stale: the pid no longer exists, or it belongs to another
 * process (its start time in /proc/PID/stat differs from the recorded one), or the lock was
 * written during an earlier boot. Replacing a stale lock is the racy part: two starters can both
 * judge the same lock stale. Only the process that exclusively creates
 * `hostnetd.lock.takeover-<hash of the stale content>` may remove that exact content, and it
 * re-reads the lock under that guard before removing it. After that everybody competes through
 * the ordinary exclusive create again, so exactly one wins. A guard left by a crashed process is
 * itself stale and is replaced the same way, one level down.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCode, HostnetError } from '../errors.js';
import { errnoOf, pidAlive, readTextIfExists, removeStaleTmpFiles, tmpNameFor } from './atomic.js';

export type LockOwner = 'daemon' | 'restore';

export const LOCK_FILE = 'hostnetd.lock';

/** What the lock file holds. */
export interface LockRecord {
  pid: number;
  who: LockOwner;
  /** ISO time the holder took the lock */
  startedAt: string;
  /** field 22 of /proc/PID/stat (clock ticks since boot): tells a reused pid apart */
  procStart?: string;
  /** /proc/sys/kernel/random/boot_id: a lock from an earlier boot is stale whatever its pid */
  bootId?: string;
  /** makes every record unique, so a takeover can tell this lock from a newer one */
  nonce?: string;
}

export interface StateLock {
  readonly stateDir: string;
  readonly path: string;
  readonly record: LockRecord;
  /** The stale lock that was replaced, if any, so the caller can log it (raw text if unreadable). */
  readonly tookOver?: { record: LockRecord | null; raw: string; reason: string };
  /** Remove the lock if it is still ours. Idempotent. */
  release(): Promise<void>;
}

const MAX_ATTEMPTS = 100;
const RETRY_MS = 20;
const MAX_GUARD_DEPTH = 3;

export async function acquireStateLock(stateDir: string, who: LockOwner): Promise<StateLock> {
  const dir = path.resolve(stateDir);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await removeStaleTmpFiles(dir);
  const file = path.join(dir, LOCK_FILE);
  const record = await ownRecord(who);
  const raw = JSON.stringify(record) + '\n';

  const outcome = await acquireExclusive(file, raw, 0);
  if (!outcome.ok) throw refusal(dir, outcome.holder);
  await removeLeftoverGuards(dir);
  return makeHandle(dir, file, record, raw, outcome.tookOver);
}

interface Holder {
  raw: string;
  record: LockRecord | null;
  /** hash of the raw content: the identity a takeover guard is keyed on */
  id: string;
}

type Outcome =
  | { ok: true; tookOver?: { record: LockRecord | null; raw: string; reason: string } }
  | { ok: false; holder: Holder };

async function acquireExclusive(file: string, raw: string, depth: number): Promise<Outcome> {
  let tookOver: { record: LockRecord | null; raw: string; reason: string } | undefined;
  let lastLive: Holder | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await createExclusive(file, raw)) return tookOver ? { ok: true, tookOver } : { ok: true };
    const cur = await readHolder(file);
    if (!cur) continue; // released between our create and our read: try again
    const stale = await staleReason(cur.record);
    if (stale === null) return { ok: false, holder: cur };
    if (depth >= MAX_GUARD_DEPTH) {
      throw new HostnetError(ErrorCode.UNAVAIL, `cannot take over stale lock ${file}: too many crashed takeovers; remove ${file}* by hand`);
    }
    const guard = `${file}.takeover-${cur.id}`;
    const g = await acquireExclusive(guard, raw, depth + 1);
    if (!g.ok) {
      // Someone alive is replacing this very lock right now; see what they end up with.
      lastLive = g.holder;
      await sleep(RETRY_MS);
      continue;
    }
    try {
      const again = await readHolder(file);
      if (again && again.id === cur.id) {
        await fs.unlink(file);
        tookOver = { record: cur.record, raw: cur.raw, reason: stale };
      }
    } finally {
      await fs.unlink(guard).catch(() => undefined);
    }
  }
  throw new HostnetError(
    ErrorCode.UNAVAIL,
    `could not take lock ${file}: still contended after ${MAX_ATTEMPTS} attempts` +
      (lastLive?.record ? ` (a takeover by pid ${lastLive.record.pid} is in progress)` : ''),
  );
}

/** Create `file` holding `raw` unless it exists. Never exposes a partially written file. */
async function createExclusive(file: string, raw: string): Promise<boolean> {
  const tmp = tmpNameFor(file);
  await fs.writeFile(tmp, raw, { flag: 'wx', mode: 0o600 });
  try {
    await fs.link(tmp, file);
    return true;
  } catch (e) {
    if (errnoOf(e) === 'EEXIST') return false;
    throw e;
  } finally {
    await fs.unlink(tmp).catch(() => undefined);
  }
}

async function readHolder(file: string): Promise<Holder | null> {
  const raw = await readTextIfExists(file);
  if (raw === null) return null;
  return { raw, record: parseRecord(raw), id: createHash('sha256').update(raw).digest('hex').slice(0, 16) };
}

function parseRecord(raw: string): LockRecord | null {
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null) return null;
    const r = v as Record<string, unknown>;
    if (!Number.isInteger(r.pid) || (r.pid as number) <= 0) return null;
    return {
      pid: r.pid as number,
      who: r.who === 'restore' ? 'restore' : 'daemon',
      startedAt: typeof r.startedAt === 'string' ? r.startedAt : 'unknown',
      ...(typeof r.procStart === 'string' ? { procStart: r.procStart } : {}),
      ...(typeof r.bootId === 'string' ? { bootId: r.bootId } : {}),
      ...(typeof r.nonce === 'string' ? { nonce: r.nonce } : {}),
    };
  } catch {
    return null;
  }
}

/**
 * Why the holder is gone, or null while it is alive. A record nobody could have written with the
 * protocol above (unparseable) has no live writer: the lock is written whole or not at all.
 */
export async function staleReason(rec: LockRecord | null): Promise<string | null> {
  if (rec === null) return 'the lock file is unreadable';
  const bootId = await readBootId();
  if (rec.bootId && bootId && rec.bootId !== bootId) return 'it was taken before the last reboot';
  if (!pidAlive(rec.pid)) return `pid ${rec.pid} is not running`;
  if (rec.procStart !== undefined) {
    const now = await procStartOf(rec.pid);
    if (now !== null && now !== rec.procStart) return `pid ${rec.pid} now belongs to another process`;
    return null;
  }
  // A record without a start time (written by hand or by an older version): fall back to the name.
  const cmdline = await fs.readFile(`/proc/${rec.pid}/cmdline`, 'utf8').catch(() => null);
  if (cmdline !== null && !cmdline.includes('hostnetd')) return `pid ${rec.pid} is not hostnetd`;
  return null;
}

function refusal(dir: string, holder: Holder): HostnetError {
  // An unreadable record is always stale, so a live holder has a record; the fallback is defensive.
  const r = holder.record ?? { pid: 0, who: 'daemon' as const, startedAt: 'unknown' };
  const hint = r.who === 'restore' ? 'wait for it to finish' : 'stop it first (systemctl stop hostnetd)';
  return new HostnetError(
    ErrorCode.UNAVAIL,
    `state directory ${dir} is locked by hostnetd ${r.who} pid ${r.pid} (started ${r.startedAt}); ${hint}`,
    { data: { pid: r.pid, who: r.who, startedAt: r.startedAt } },
  );
}

async function ownRecord(who: LockOwner): Promise<LockRecord> {
  const procStart = await procStartOf(process.pid);
  const bootId = await readBootId();
  return {
    pid: process.pid,
    who,
    startedAt: new Date().toISOString(),
    ...(procStart !== null ? { procStart } : {}),
    ...(bootId !== null ? { bootId } : {}),
    nonce: randomBytes(8).toString('hex'),
  };
}

/** Field 22 (starttime) of /proc/PID/stat. The command name (field 2) may hold spaces and ')'. */
async function procStartOf(pid: number): Promise<string | null> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return afterComm[19] ?? null; // afterComm[0] is field 3
}

async function readBootId(): Promise<string | null> {
  const id = await fs.readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => null);
  return id === null ? null : id.trim();
}

/** Guards are only left behind by crashed takeovers; once we hold the lock none of them matters. */
async function removeLeftoverGuards(dir: string): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    if (name.startsWith(`${LOCK_FILE}.takeover-`)) await fs.unlink(path.join(dir, name)).catch(() => undefined);
  }
}

function makeHandle(
  dir: string,
  file: string,
  record: LockRecord,
  raw: string,
  tookOver: { record: LockRecord | null; raw: string; reason: string } | undefined,
): StateLock {
  let released = false;
  // Best effort on a normal exit; a kill -9 leaves a lock that the next start finds stale.
  const onExit = () => {
    try {
      if (readFileSync(file, 'utf8') === raw) unlinkSync(file);
    } catch {
      /* nothing to do while exiting */
    }
  };
  process.once('exit', onExit);
  return {
    stateDir: dir,
    path: file,
    record,
    ...(tookOver ? { tookOver } : {}),
    async release() {
      if (released) return;
      released = true;
      process.removeListener('exit', onExit);
      const cur = await fs.readFile(file, 'utf8').catch(() => null);
      // Never remove a lock that is not ours (it would be someone else's after a takeover).
      if (cur === raw) await fs.unlink(file).catch(() => undefined);
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
