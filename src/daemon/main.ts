/**
 * bin/hostnetd: `hostnetd [options]` runs the daemon in the foreground until SIGTERM/SIGINT;
 * `hostnetd restore [options]` restores the safe config at boot and exits.
 * Exit codes: 0 clean stop, 1 could not start (message on stderr and in the log), 2 usage.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { ErrorCode, HostnetError, isHostnetError } from '../errors.js';
import { enableFaultsFromEnv } from '../faults.js';
import { startDaemon } from './daemon.js';
import { DAEMON_USAGE, parseDaemonArgs } from './options.js';
import { Metrics } from './metrics.js';
import { sdNotify } from './notify.js';
import { runRestore } from './restore.js';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'restore') return runRestore(argv.slice(1));
  let opts;
  try {
    opts = parseDaemonArgs(argv, (f) => readFileSync(f, 'utf8'));
  } catch (e) {
    if (!isHostnetError(e, ErrorCode.USAGE)) throw e;
    process.stderr.write(`hostnetd: ${e.message}\nRun 'hostnetd --help' for the options.\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(DAEMON_USAGE);
    return 0;
  }
  // --metrics: most counters are read from the log events themselves (src/daemon/metrics.ts)
  const metrics = opts.metrics ? new Metrics() : undefined;
  const log = pino({ name: 'hostnetd', level: opts.logLevel, timestamp: pino.stdTimeFunctions.isoTime,
    ...(metrics ? { hooks: { logMethod: metrics.logHook() } } : {}) });
  enableFaultsFromEnv(log);
  let daemon;
  try {
    daemon = await startDaemon(opts, log, metrics ? { metrics } : {});
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    log.fatal({ err: e instanceof HostnetError ? undefined : e }, `cannot start: ${message}`);
    process.stderr.write(`hostnetd: cannot start: ${message}\n`);
    return 1;
  }
  log.info({ listen: daemon.addresses, stateDir: opts.stateDir }, 'ready');
  // Type=notify: systemd marks hostnetd.service active only now, with every listener up
  const readiness = sdNotify('READY=1');
  if ('error' in readiness) log.error({ event: 'sd-notify-failed', err: readiness.error }, 'could not tell systemd we are ready');
  const running = daemon;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal while stopping; exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      log.info({ signal }, 'stopping');
      sdNotify('STOPPING=1');
      running.close().then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          log.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`hostnetd: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
