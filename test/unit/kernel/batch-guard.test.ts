// The batch guard (issue 10, defect 2): a batch runs under setpriv --pdeathsig, is recorded while
// it runs, and a start kills and waits for a batch a previous run left alive.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { awaitPreviousBatches, BATCH_PIDS_FILE, BatchGuard } from '../../../src/kernel/batch-guard.js';

const log = pino({ level: 'silent' });
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const startOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
};

describe('batch guard', () => {
  it('runs a batch under setpriv --pdeathsig KILL and records it only while it runs', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-bg-'));
    const guard = new BatchGuard(dir);
    expect(guard.command('ip', ['-batch', '-'])).toEqual(['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', 'ip', '-batch', '-']]);
    const file = path.join(dir, BATCH_PIDS_FILE);
    guard.started(process.pid);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual([{ pid: process.pid, start: startOf(process.pid) }]);
    // written aside and renamed into place: no temporary file stays behind
    expect(readdirSync(dir)).toEqual([BATCH_PIDS_FILE]);
    guard.ended(process.pid);
    expect(existsSync(file)).toBe(false);
  });

  it('a start kills a batch of the previous run still alive and waits until it is gone; a reused pid is left alone', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hostnetd-bg-'));
    const orphan = spawn('sleep', ['600'], { stdio: 'ignore' });
    const other = spawn('sleep', ['600'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => orphan.once('exit', (_c, s) => r(s)));
    writeFileSync(path.join(dir, BATCH_PIDS_FILE), JSON.stringify([
      { pid: orphan.pid, start: startOf(orphan.pid!) },
      { pid: other.pid, start: 'not-its-start-time' }, // the pid now belongs to another process
    ]));
    expect(await awaitPreviousBatches(dir, log)).toBe(1);
    expect(await exited).toBe('SIGKILL');
    expect(other.exitCode).toBeNull();
    expect(existsSync(path.join(dir, BATCH_PIDS_FILE))).toBe(false);
    other.kill('SIGKILL');
    expect(await awaitPreviousBatches(dir, log)).toBe(0); // no record: nothing to wait for
  });
});
