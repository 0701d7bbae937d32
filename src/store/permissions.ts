/**
 * The state directory decides what hostnetd does to the host at boot (safe.json) and after a
 * crash (journal.jsonl), so nobody but the daemon's user may write it. Checked at every start of
 * the daemon and of `hostnetd restore`, before the lock is taken:
 *   - the directory or an entry in it owned by another user, or an entry that is not a regular
 *     file (a symlink could redirect a write), is refused (103);
 *   - write permission for group or others, on something the daemon's user owns, is removed, and
 *     each fix is returned as a warning to log.
 * The directory is created 0700 when it does not exist.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCode, HostnetError } from '../errors.js';
import { errnoOf } from './atomic.js';

const GROUP_OTHER_WRITE = 0o022;

export interface PermissionFix {
  path: string;
  from: string;
  to: string;
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

function refuse(why: string): HostnetError {
  return new HostnetError(ErrorCode.STORE_FAILED, `refusing to use the state directory: ${why}`);
}

/** @param uid the daemon's user (process.geteuid() by default; a parameter for tests) */
export async function secureStateDir(dir: string, uid: number = process.geteuid?.() ?? 0): Promise<PermissionFix[]> {
  const abs = path.resolve(dir);
  await fs.mkdir(abs, { recursive: true, mode: 0o700 });
  const fixes: PermissionFix[] = [];
  const check = async (p: string, st: { uid: number; mode: number }, kind: string) => {
    if (st.uid !== uid) {
      throw refuse(`${kind} ${p} is owned by uid ${st.uid}, not by hostnetd's user (uid ${uid}); chown it or remove it`);
    }
    if (st.mode & GROUP_OTHER_WRITE) {
      const to = st.mode & 0o7777 & ~GROUP_OTHER_WRITE;
      await fs.chmod(p, to);
      fixes.push({ path: p, from: octal(st.mode), to: octal(to) });
    }
  };
  const dirStat = await fs.lstat(abs);
  if (!dirStat.isDirectory()) throw refuse(`${abs} is not a directory (a symlink is not followed)`);
  await check(abs, dirStat, 'directory');
  for (const name of await fs.readdir(abs)) {
    const p = path.join(abs, name);
    let st;
    try {
      st = await fs.lstat(p);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') continue; // removed meanwhile (a stale temporary file)
      throw e;
    }
    if (!st.isFile()) throw refuse(`${p} is not a regular file (a symlink or other entry could redirect hostnetd's writes); remove it`);
    await check(p, st, 'file');
  }
  return fixes;
}
