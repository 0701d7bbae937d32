/**
 * The native addon (native/netlink, built by scripts/build-netlink.sh on every install), loaded
 * once: the rtnetlink sockets netlink.ts wraps, and the file writer sysctl.ts uses.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ErrorCode, HostnetError } from '../errors.js';
import type { AddonSocket } from './netlink.js';

/** A group that stopped at its first failing file: which, and the call's errno and message. */
export type FileWriteFailure = [group: number, file: number, errno: number, syscall: string, message: string];

interface Addon {
  Rtnl: new (opts: { netns?: string; subscribe: boolean; rcvbuf?: number; localTable: boolean }, onReadable?: () => void) => AddonSocket;
  /** the names of a bridge message's option values (BridgeMsg.optValues), in their order */
  bridgeOptionNames(): string[];
  /** each group's [path, text] files written in order on a pool thread, a group stopping at its first failure */
  writeFiles(groups: (readonly [string, string])[][], cb: (err: Error | null, failures?: FileWriteFailure[]) => void): void;
}

let addon: Addon | undefined;

export function loadAddon(): Addon {
  if (addon) return addon;
  const path = fileURLToPath(new URL('../../native/netlink/build/Release/hostnet_netlink.node', import.meta.url));
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (e) {
    throw new HostnetError(ErrorCode.KERNEL_READ_FAILED, `the rtnetlink reader addon is missing (${path}): run npm ci or bash scripts/build-netlink.sh (${(e as Error).message})`, { cause: e });
  }
  return addon;
}
