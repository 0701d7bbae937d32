/**
 * `hostnetd restore [the daemon's flags]`: the boot-time restore of the safe config. Takes the
 * state-directory lock (so it refuses while a daemon runs), settles an unfinished change, applies
 * the safe config, prints a summary and exits: 0 when the safe config is in place (skips are
 * warnings), 1 when something could not be applied, 2 on a usage error.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { ConnectivityTracker } from '../apply/connectivity.js';
import { ErrorCode, HostnetError, isHostnetError } from '../errors.js';
import { fromOptions, makeTransactions } from '../apply/factory.js';
import { restoreSafeConfig, type RestoreSummary } from '../apply/restore.js';
import { createIproute } from '../kernel/iproute.js';
import { BatchGuard } from '../kernel/batch-guard.js';
import { enableFaultsFromEnv } from '../faults.js';
import { ConfigStore } from '../store/config-store.js';
import { DhcpClients } from '../dhcp/clients.js';
import { acquireStateLock } from '../store/lock.js';
import { secureStateDir } from '../store/permissions.js';
import { DAEMON_USAGE, parseDaemonArgs } from './options.js';

export async function runRestore(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseDaemonArgs(argv, (f) => readFileSync(f, 'utf8'));
  } catch (e) {
    if (!isHostnetError(e, ErrorCode.USAGE)) throw e;
    process.stderr.write(`hostnetd restore: ${e.message}\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(`hostnetd restore [options]: apply the safe network config and exit (run at boot).\n\n${DAEMON_USAGE}`);
    return 0;
  }
  const log = pino({ name: 'hostnetd-restore', level: opts.logLevel, timestamp: pino.stdTimeFunctions.isoTime });
  enableFaultsFromEnv(log);
  let lock;
  let dhcp: DhcpClients | undefined;
  try {
    for (const fix of await secureStateDir(opts.stateDir)) {
      log.warn({ event: 'state-permissions-fixed', ...fix }, `${fix.path} was writable by group or others; mode ${fix.from} -> ${fix.to}`);
      process.stderr.write(`hostnetd restore: warning: ${fix.path} was writable by group or others; mode ${fix.from} -> ${fix.to}\n`);
    }
    lock = await acquireStateLock(opts.stateDir, 'restore');
  } catch (e) {
    process.stderr.write(`hostnetd restore: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    const store = await ConfigStore.open(opts.stateDir);
    const ipr = createIproute({ batches: new BatchGuard(opts.stateDir) });
    // clients started here outlive this process; the daemon adopts them from --run-dir
    dhcp = new DhcpClients({ runDir: opts.runDir, log });
    await dhcp.open();
    const tx = await makeTransactions({ ...fromOptions(opts), log, ipr, store, connectivity: new ConnectivityTracker(), dhcp });
    const summary = await restoreSafeConfig(tx, { ipr, store, fakeNics: opts.fakeNics, dhcp, dhcpTimeoutMs: opts.dhcpTimeout * 1000 }, log);
    process.stdout.write(formatSummary(summary));
    log.info({ event: 'restored', ...summary }, 'safe config restored');
    return 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const code = e instanceof HostnetError ? e.code : undefined;
    log.error({ event: 'restore-failed', code, err: message }, 'restore failed');
    process.stderr.write(`hostnetd restore: failed${code !== undefined ? ` (${code})` : ''}: ${message}\n`);
    return 1;
  } finally {
    dhcp?.close();
    await lock.release();
  }
}

function formatSummary(s: RestoreSummary): string {
  const lines = [
    `restored safe config: ${s.networks.length} network(s) [${s.networks.join(', ')}], ${s.bonds.length} bond(s) [${s.bonds.join(', ')}], ${s.ops} kernel operation(s)`,
  ];
  if (s.recoveredJournal) lines.push('an unfinished change from before was rolled back first');
  for (const k of s.skipped) lines.push(`warning: skipped ${k.kind} ${k.name}: ${k.reason}`);
  for (const n of s.dhcpPending) lines.push(`warning: network ${n} has no DHCP lease yet; its client keeps trying`);
  return `${lines.join('\n')}\n`;
}
