/**
 * A unix socket path left behind by a crashed daemon would make listen() fail with
 * EADDRINUSE. Before listening: a socket file nobody accepts on is removed; one a live
 * process accepts on is refused (two daemons must not share a socket); anything that is not
 * a socket is never deleted.
 */
import { connect } from 'node:net';
import { lstat, unlink } from 'node:fs/promises';
import { connectionError } from '../errors.js';


/** 'absent' | 'stale' (removed) ; throws a CONNECTION HostnetError when taken or not a socket. */
export async function clearStaleSocket(path: string): Promise<'absent' | 'stale'> {
  let stat;
  try {
    stat = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw e;
  }
  if (!stat.isSocket()) {
    throw connectionError(`${path} exists and is not a socket; refusing to replace it (remove it by hand if it is yours)`);
  }
  if (await accepts(path)) {
    throw connectionError(
      `${path} is in use by a running process (another hostnetd?); stop it first or use another --run-dir/--listen`,
    );
  }
  await unlink(path);
  return 'stale';
}

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      sock.destroy();
      if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT') resolve(false);
      else reject(e);
    });
  });
}
