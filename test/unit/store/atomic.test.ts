import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeStaleTmpFiles, unlinkDurable, writeFileAtomic } from '../../../src/store/atomic.js';
import { buildStore, removeBuild, runScript, waitExit, waitForLine } from './child.js';
import { useTmpDirs } from './tmpdir.js';

const tmpDir = useTmpDirs();

async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '']);
  await waitExit(c);
  return c.pid!;
}

describe('writeFileAtomic', () => {
  it('creates and replaces a file, leaving no temporary name behind', async () => {
    const dir = await tmpDir();
    const f = path.join(dir, 'running.json');
    await writeFileAtomic(f, 'old\n');
    expect(await readFile(f, 'utf8')).toBe('old\n');
    await writeFileAtomic(f, Buffer.from('new\n'));
    expect(await readFile(f, 'utf8')).toBe('new\n');
    expect(await readdir(dir)).toEqual(['running.json']);
    expect((await stat(f)).mode & 0o777).toBe(0o600);
  });

  it('leaves the target as it was and no temporary file when the rename fails', async () => {
    const dir = await tmpDir();
    // Renaming a file over a directory fails (EISDIR), after the temporary file was written and synced.
    const d = path.join(dir, 'adir');
    await mkdir(d);
    await writeFile(path.join(d, 'inside'), 'old');
    await expect(writeFileAtomic(d, 'new')).rejects.toThrow(/EISDIR/);
    expect(await readdir(dir)).toEqual(['adir']);
    expect(await readFile(path.join(d, 'inside'), 'utf8')).toBe('old');
  });

  it('never exposes a torn file when the writer is killed at a random moment', { timeout: 60_000 }, async () => {
    const built = await buildStore();
    try {
      const dir = await tmpDir();
      const f = path.join(dir, 'doc');
      // Each version is 1 MiB of one letter: a torn file would mix letters or be short.
      const size = 1 << 20;
      await writeFile(f, 'A'.repeat(size));
      const script = `
        import { writeFileAtomic } from 'BUILT/store/atomic.js';
        const [file, size] = process.argv.slice(1);
        console.log('READY');
        for (let i = 0; ; i++) await writeFileAtomic(file, String.fromCharCode(66 + (i % 20)).repeat(Number(size)));
      `;
      for (let round = 0; round < 5; round++) {
        const c = runScript(built, script, [f, String(size)]);
        await waitForLine(c, /^READY/);
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 150));
        c.kill('SIGKILL');
        await waitExit(c);
        const text = await readFile(f, 'utf8');
        expect(text.length).toBe(size);
        expect(new Set(text).size).toBe(1);
      }
      // The killed writers may have left temporary files; they are recognised and removed.
      const removed = await removeStaleTmpFiles(dir);
      expect(await readdir(dir)).toEqual(['doc']);
      for (const name of removed) expect(name).toMatch(/^\.doc\.tmp-\d+-[0-9a-f]+$/);
    } finally {
      await removeBuild(built);
    }
  });
});

describe('removeStaleTmpFiles', () => {
  it("removes a dead writer's temporary file but not a live writer's or other files", async () => {
    const dir = await tmpDir();
    const dead = `.running.json.tmp-${await deadPid()}-0a1b2c`;
    const live = `.running.json.tmp-${process.pid}-0a1b2c`;
    await writeFile(path.join(dir, dead), '{"version": 1, "netw');
    await writeFile(path.join(dir, live), '{');
    await writeFile(path.join(dir, 'running.json'), '{}');
    await writeFile(path.join(dir, '.hidden'), '');
    expect(await removeStaleTmpFiles(dir)).toEqual([dead]);
    expect((await readdir(dir)).sort()).toEqual(['.hidden', live, 'running.json'].sort());
  });

  it('treats a missing directory as empty', async () => {
    expect(await removeStaleTmpFiles(path.join(await tmpDir(), 'nope'))).toEqual([]);
  });
});

describe('unlinkDurable', () => {
  it('removes a file and accepts one already gone', async () => {
    const dir = await tmpDir();
    const f = path.join(dir, 'j');
    await writeFile(f, 'x');
    await unlinkDurable(f);
    await unlinkDurable(f);
    expect(await readdir(dir)).toEqual([]);
  });
});
