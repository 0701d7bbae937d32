/**
 * systemd readiness (Type=notify): READY=1 once every listener accepts, STOPPING=1 when a
 * clean stop begins. Sent by the small native addon build/Release/hostnet_notify.node
 * (native/notify_addon.c) from the daemon's own PID, so the unit needs no NotifyAccess=all.
 * Outside systemd ($NOTIFY_SOCKET unset) nothing is sent and nothing is loaded.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface NotifyAddon {
  notify(state: string): boolean;
}

/** src/daemon and dist/daemon are both two levels below the project root. */
const addonPath = () => resolve(dirname(fileURLToPath(import.meta.url)), '../../build/Release/hostnet_notify.node');

export type NotifyResult = { sent: boolean } | { error: string };

/** Tells systemd `state` (e.g. "READY=1"). Never throws: the caller logs an error result. */
export function sdNotify(state: string, env: NodeJS.ProcessEnv = process.env): NotifyResult {
  if (!env['NOTIFY_SOCKET']) return { sent: false };
  try {
    const addon = createRequire(import.meta.url)(addonPath()) as NotifyAddon;
    return { sent: addon.notify(state) };
  } catch (e) {
    return { error: `sd_notify ${JSON.stringify(state)}: ${(e as Error).message.split('\n')[0]}` };
  }
}
