import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, HostnetError } from '../../../src/errors.js';
import { acquireStateLock, LOCK_FILE, type StateLock } from '../../../src/store/lock.js';
import { buildStore, removeBuild, runScript, waitExit, waitForLine } from './child.js';
import { useTmpDirs } from './tmpdir.js';

/** Takes the lock, prints LOCKED <pid> or REFUSED <message>, then holds it until stdin closes. */
const HOLDER = `
import { acquireStateLock } from 'BUILT/store/lock.js';
const [dir, who, then] = process.argv.slice(1);
try {
  const lock = await acquireStateLock(dir, who);
  console.log('LOCKED ' + process.pid + (lock.tookOver ? ' TOOKOVER' : ''));
  if (then === 'exit') process.exit(0);
  process.stdin.on('end', async () => { await lock.release(); console.log('RELEASED'); });
  process.stdin.resume();
} catch (e) {
  console.log('REFUSED ' + e.code + ' ' + e.message);
  process.exit(3);
}
`;

const tmpDir = useTmpDirs();
let built: string;
const children: ChildProcess[] = [];
const held: StateLock[] = [];

beforeAll(async () => {
  built = await buildStore();
});
afterAll(async () => {
  await removeBuild(built);
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(held.splice(0).map((l) => l.release()));
});

function holder(dir: string, who = 'daemon', then = 'hold'): ChildProcess {
  const c = runScript(built, HOLDER, [dir, who, then]);
  children.push(c);
  return c;
}

async function take(dir: string, who: 'daemon' | 'restore' = 'daemon'): Promise<StateLock> {
  const l = await acquireStateLock(dir, who);
  held.push(l);
  return l;
}

/** A pid that certainly belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '']);
  await waitExit(c);
  return c.pid!;
}

async function refusal(p: Promise<unknown>): Promise<HostnetError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(HostnetError);
  return e as HostnetError;
}

// Children are node processes: allow for a loaded machine.
describe('acquireStateLock', { timeout: 30_000 }, () => {
  it('creates a missing state directory with mode 0700 and writes who holds it', async () => {
    const dir = path.join(await tmpDir(), 'var', 'lib', 'hostnetd');
    const lock = await take(dir, 'restore');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const rec = JSON.parse(await readFile(path.join(dir, LOCK_FILE), 'utf8'));
    expect(rec).toMatchObject({ pid: process.pid, who: 'restore' });
    expect(new Date(rec.startedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses while a live process holds it, naming the holder', async () => {
    const dir = await tmpDir();
    const c = holder(dir, 'daemon');
    const line = await waitForLine(c, /^(LOCKED|REFUSED)/);
    expect(line).toBe(`LOCKED ${c.pid}`);

    const e = await refusal(acquireStateLock(dir, 'restore'));
    expect(e.code).toBe(ErrorCode.UNAVAIL);
    expect(e.message).toMatch(
      new RegExp(`^state directory ${dir} is locked by hostnetd daemon pid ${c.pid} \\(started \\d{4}-\\d\\d-\\d\\dT[^)]+\\)`),
    );

    // Once the holder releases, the lock is free.
    c.stdin!.end();
    await waitForLine(c, /^RELEASED/);
    await waitExit(c);
    await take(dir, 'restore');
  });

  it('refuses a second acquisition by the same process', async () => {
    const dir = await tmpDir();
    await take(dir, 'daemon');
    const e = await refusal(acquireStateLock(dir, 'daemon'));
    expect(e.message).toContain(`hostnetd daemon pid ${process.pid}`);
  });

  it('tells a restore holder apart from a daemon holder', async () => {
    const dir = await tmpDir();
    const c = holder(dir, 'restore');
    await waitForLine(c, /^LOCKED/);
    const e = await refusal(acquireStateLock(dir, 'daemon'));
    expect(e.message).toContain(`locked by hostnetd restore pid ${c.pid}`);
  });

  it('takes over a lock naming a dead pid', async () => {
    const dir = await tmpDir();
    const pid = await deadPid();
    await writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid, who: 'daemon', startedAt: '2020-01-01T00:00:00.000Z' }));
    const lock = await take(dir);
    expect(lock.tookOver?.record?.pid).toBe(pid);
    expect(lock.tookOver?.reason).toBe(`pid ${pid} is not running`);
    expect(JSON.parse(await readFile(lock.path, 'utf8')).pid).toBe(process.pid);
    expect((await readdir(dir)).sort()).toEqual([LOCK_FILE]);
  });

  it('takes over the lock of a holder killed with SIGKILL', async () => {
    const dir = await tmpDir();
    const c = holder(dir);
    await waitForLine(c, /^LOCKED/);
    c.kill('SIGKILL');
    await waitExit(c);
    const lock = await take(dir);
    expect(lock.tookOver?.record?.pid).toBe(c.pid);
  });

  it('takes over a lock whose pid was reused by another process', async () => {
    const dir = await tmpDir();
    const sleeper = spawn('sleep', ['30']);
    children.push(sleeper);
    // Alive, but its start time is not the recorded one.
    await writeFile(
      path.join(dir, LOCK_FILE),
      JSON.stringify({ pid: sleeper.pid, who: 'daemon', startedAt: '2020-01-01T00:00:00.000Z', procStart: '1' }),
    );
    expect((await take(dir)).tookOver?.reason).toBe(`pid ${sleeper.pid} now belongs to another process`);
  });

  it('takes over a lock without a start time whose pid is not hostnetd', async () => {
    const dir = await tmpDir();
    const sleeper = spawn('sleep', ['30']);
    children.push(sleeper);
    await writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: sleeper.pid, who: 'daemon', startedAt: 'x' }));
    expect((await take(dir)).tookOver?.reason).toBe(`pid ${sleeper.pid} is not hostnetd`);
  });

  it('takes over a lock from an earlier boot even if its pid is alive now', async () => {
    const dir = await tmpDir();
    await writeFile(
      path.join(dir, LOCK_FILE),
      JSON.stringify({ pid: process.pid, who: 'daemon', startedAt: 'x', bootId: '00000000-0000-0000-0000-000000000000' }),
    );
    expect((await take(dir)).tookOver?.reason).toBe('it was taken before the last reboot');
  });

  it('takes over an unreadable lock file', async () => {
    const dir = await tmpDir();
    await writeFile(path.join(dir, LOCK_FILE), '{"pid": 12');
    expect((await take(dir)).tookOver?.reason).toBe('the lock file is unreadable');
  });

  it('takes over past a takeover guard left by a crashed process', async () => {
    const dir = await tmpDir();
    const stale = JSON.stringify({ pid: await deadPid(), who: 'daemon', startedAt: 'x' });
    await writeFile(path.join(dir, LOCK_FILE), stale);
    const { createHash } = await import('node:crypto');
    const id = createHash('sha256').update(stale).digest('hex').slice(0, 16);
    await writeFile(
      path.join(dir, `${LOCK_FILE}.takeover-${id}`),
      JSON.stringify({ pid: await deadPid(), who: 'daemon', startedAt: 'y' }),
    );
    const lock = await take(dir);
    expect(lock.tookOver).toBeDefined();
    expect(await readdir(dir)).toEqual([LOCK_FILE]);
  });

  it('is released when the holder exits normally without releasing', async () => {
    const dir = await tmpDir();
    const c = holder(dir, 'daemon', 'exit');
    await waitForLine(c, /^LOCKED/);
    expect(await waitExit(c)).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });

  it('does not remove a lock that is no longer its own', async () => {
    const dir = await tmpDir();
    const lock = await take(dir);
    const other = JSON.stringify({ pid: 1, who: 'restore', startedAt: 'z' });
    await writeFile(lock.path, other);
    await lock.release();
    expect(await readFile(lock.path, 'utf8')).toBe(other);
  });

  it('lets exactly one of many interleaved acquisitions replace the same stale lock', async () => {
    // Within one process the async steps of 20 acquisitions interleave densely: every one of
    // them judges the same lock stale, so this exercises the takeover guard.
    for (let round = 0; round < 5; round++) {
      const dir = await tmpDir();
      await writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: await deadPid(), who: 'daemon', startedAt: 'x' }));
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => acquireStateLock(dir, 'daemon')));
      const won = results.filter((r): r is PromiseFulfilledResult<StateLock> => r.status === 'fulfilled');
      held.push(...won.map((r) => r.value));
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect((r.reason as HostnetError).code).toBe(ErrorCode.UNAVAIL);
      expect(await readFile(path.join(dir, LOCK_FILE), 'utf8')).toBe(JSON.stringify(won[0]!.value.record) + '\n');
    }
  });

  for (const initial of ['free', 'stale'] as const) {
    it(`lets exactly one of several concurrent starters win (lock ${initial})`, async () => {
      const dir = await tmpDir();
      if (initial === 'stale') {
        await writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: await deadPid(), who: 'daemon', startedAt: 'x' }));
      }
      const cs = Array.from({ length: 6 }, () => holder(dir));
      const lines = await Promise.all(cs.map((c) => waitForLine(c, /^(LOCKED|REFUSED)/)));
      const winners = lines.filter((l) => l.startsWith('LOCKED'));
      expect(winners).toHaveLength(1);
      const winnerPid = Number(winners[0]!.split(' ')[1]);
      for (const l of lines.filter((x) => x.startsWith('REFUSED'))) {
        expect(l).toContain(`REFUSED ${ErrorCode.UNAVAIL} state directory ${dir} is locked by hostnetd daemon pid ${winnerPid}`);
      }
      expect(JSON.parse(await readFile(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(winnerPid);
    });
  }
});
