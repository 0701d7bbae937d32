/**
 * `ip -batch` / `bridge -batch` children must not outlive the daemon: a batch left running after
 * a `kill -9` would race the next start's rollback (issue 10, defect 2). Two guards:
 * - each batch runs under `setpriv --pdeathsig KILL`, so the kernel kills it when the daemon dies
 *   (with or without systemd);
 * - the pids of live batches are kept in <stateDir>/batch.pids (with their start time, so a
 *   reused pid is told apart). The next start kills any still there and waits until none is
 *   alive before it recovers (awaitPreviousBatches).
 * Only batches are guarded: dumps change nothing, and the DHCP clients of a later issue are meant
 * to outlive a restart. The file is not fsynced: after a power loss no process survives anyway.
 */
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from 'pino';

export const BATCH_PIDS_FILE = 'batch.pids';

interface BatchRecord {
  pid: number;
  /** field 22 of /proc/PID/stat */
  start: string;
}

/** `setpriv` from util-linux (essential on Debian); without it only the pid file guards. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

export class BatchGuard {
  private readonly live = new Map<number, string>();
  readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(path.resolve(stateDir), BATCH_PIDS_FILE);
  }

  /** The program and arguments a batch runs as. */
  command(program: string, args: readonly string[]): [string, string[]] {
    return SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', program, ...args]] : [program, [...args]];
  }

  started(pid: number | undefined): void {
    if (pid === undefined) return;
    const stat = procStat(pid);
    if (stat === null) return; // already gone
    this.live.set(pid, stat.start);
    this.save();
  }

  ended(pid: number | undefined): void {
    if (pid === undefined || !this.live.delete(pid)) return;
    this.save();
  }

  private save(): void {
    if (this.live.size === 0) {
      try {
        unlinkSync(this.file);
      } catch {
        /* already gone */
      }
      return;
    }
    const records: BatchRecord[] = [...this.live].map(([pid, start]) => ({ pid, start }));
    // renamed into place: a kill -9 between truncating and writing would leave a torn file, and
    // the next start could then not tell which batch to end (the store's temporary-file pattern,
    // so a start removes one a kill left behind)
    const tmp = path.join(path.dirname(this.file), `.${BATCH_PIDS_FILE}.tmp-${process.pid}-0`);
    writeFileSync(tmp, JSON.stringify(records) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

/**
 * Before recovering: kill every batch a previous run left alive and wait until each is gone.
 * A zombie counts as gone (it changes nothing; its new parent reaps it).
 */
export async function awaitPreviousBatches(stateDir: string, log: Logger, timeoutMs = 60_000): Promise<number> {
  const file = path.join(path.resolve(stateDir), BATCH_PIDS_FILE);
  let records: BatchRecord[];
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    records = Array.isArray(parsed) ? parsed.filter(isRecord) : [];
  } catch {
    return 0; // no file (the usual case), or a torn one: no batch of ours can be identified
  }
  const alive = () => records.filter((r) => {
    const s = procStat(r.pid);
    return s !== null && s.start === r.start && s.state !== 'Z';
  });
  const left = alive();
  for (const r of left) {
    log.warn({ event: 'previous-batch', pid: r.pid }, 'a batch of the previous run is still alive; killing it before recovery');
    try {
      process.kill(r.pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (alive().length > 0) {
    if (Date.now() > deadline) throw new Error(`a batch of the previous run (pid ${alive().map((r) => r.pid).join(', ')}) does not end`);
    await new Promise((r) => setTimeout(r, 10));
  }
  unlinkSync(file);
  return left.length;
}

function isRecord(v: unknown): v is BatchRecord {
  const r = v as BatchRecord;
  return typeof r === 'object' && r !== null && Number.isInteger(r.pid) && r.pid > 0 && typeof r.start === 'string';
}

/** State (field 3) and start time (field 22) of /proc/PID/stat; the name (field 2) may hold spaces and ')'. */
function procStat(pid: number): { state: string; start: string } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', start: fields[19] ?? '' };
}
