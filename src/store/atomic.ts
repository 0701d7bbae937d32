/**
 * Durable, atomic file replacement: the only way the store writes a file.
 *
 * The new content goes to a temporary file in the same directory (rename is atomic only within
 * one filesystem), is fsynced, renamed over the target, and then the directory is fsynced so the
 * rename itself survives a power loss. A crash at any point leaves the old file or the new one,
 * never a torn one; at worst a temporary file is left behind, which readers never look at and
 * removeStaleTmpFiles() deletes.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ioFaultPoint } from '../faults.js';

/** Temporary files are named `.<target>.tmp-<pid>-<random>`: hidden, and tied to their writer. */
const TMP_RE = /^\..+\.tmp-(\d+)-[0-9a-f]+$/;

export function tmpNameFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

export interface WriteOptions {
  /** file mode of the new file (default 0o600: the state directory is private) */
  mode?: number;
}

export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  opts: WriteOptions = {},
): Promise<void> {
  const tmp = tmpNameFor(target);
  const fh = await fs.open(tmp, 'wx', opts.mode ?? 0o600);
  let renamed = false;
  try {
    await fh.writeFile(data);
    ioFaultPoint(`fsync:${path.basename(target)}`);
    await fh.sync();
    await fh.close();
    ioFaultPoint(`rename:${path.basename(target)}`);
    await fs.rename(tmp, target);
    renamed = true;
  } finally {
    if (!renamed) {
      await fh.close().catch(() => undefined);
      await fs.unlink(tmp).catch(() => undefined);
    }
  }
  await fsyncDir(path.dirname(target), path.basename(target));
}

/** Make a directory's entries (created, renamed, unlinked names) durable; `name` is the entry that changed. */
export async function fsyncDir(dir: string, name?: string): Promise<void> {
  if (name !== undefined) ioFaultPoint(`fsync-dir:${name}`);
  const fh = await fs.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Remove a file durably; a file that is already gone is fine. */
export async function unlinkDurable(target: string): Promise<void> {
  try {
    ioFaultPoint(`unlink:${path.basename(target)}`);
    await fs.unlink(target);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return;
    throw e;
  }
  await fsyncDir(path.dirname(target), path.basename(target));
}

/**
 * Delete temporary files left in `dir` by writers that crashed. Only files whose writer pid is
 * no longer alive are touched, so a concurrent writer's file in flight is never pulled away.
 * Returns the names removed.
 */
export async function removeStaleTmpFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return [];
    throw e;
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TMP_RE.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    await fs.unlink(path.join(dir, name)).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

/** True when a process with this pid exists (possibly owned by another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoOf(e) === 'EPERM';
  }
}

/** A file's text, or null when it does not exist; any other failure is thrown. */
export async function readTextIfExists(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return null;
    throw e;
  }
}

export function errnoOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}
