/**
 * The one place that starts `ip`, `bridge` and `tc` processes. Argument arrays only, never a shell:
 * names that reach here were validated, but a shell would still be one parser too many.
 *
 * The daemon runs inside the namespace it manages and passes no `netns`; tests drive a
 * namespace from outside with `createIproute({ netns })`, which prefixes `-n NS`.
 */
import { execa } from 'execa';
import { ErrorCode, hasDetail, HostnetError } from '../errors.js';
import type { BatchGuard } from './batch-guard.js';

export interface IprouteRunOptions {
  /** written to the process's stdin, for `-batch -` */
  input?: string;
  /** kill the process after this many milliseconds */
  timeoutMs?: number;
}

export interface Iproute {
  /** run `ip ARGS...`, resolve with its stdout (final newline stripped) */
  ip(args: readonly string[], opts?: IprouteRunOptions): Promise<string>;
  /** run `bridge ARGS...`, resolve with its stdout (final newline stripped) */
  bridge(args: readonly string[], opts?: IprouteRunOptions): Promise<string>;
  /** run `tc ARGS...` (port mirroring); optional so that fakes without tc stay valid */
  tc?(args: readonly string[], opts?: IprouteRunOptions): Promise<string>;
  /** the namespace this instance targets, if any */
  readonly netns?: string;
}

export interface IprouteFailure {
  kind: 'iproute';
  /** the full command line as run, program first */
  command: readonly string[];
  /** null when the process did not exit normally (signal, timeout, spawn failure) */
  exitCode: number | null;
  stderr: string;
}

/** `ip`/`bridge`/`tc` exited non-zero (or could not be started, or timed out): APPLY_FAILED. */
export function iprouteError(command: readonly string[], exitCode: number | null, stderr: string, cause?: unknown): HostnetError<IprouteFailure> {
  return new HostnetError(ErrorCode.APPLY_FAILED, `${command.join(' ')} failed (exit ${exitCode ?? 'none'}): ${firstLine(stderr)}`, {
    cause,
    detail: { kind: 'iproute', command, exitCode, stderr },
  });
}

export const isIprouteError = (e: unknown): e is HostnetError<IprouteFailure> & { detail: IprouteFailure } =>
  hasDetail<IprouteFailure>(e, 'iproute');

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 0 ? line : '(no stderr)';
}

export interface IprouteFactoryOptions {
  /** network namespace name (as `ip netns` knows it) to run every command in */
  netns?: string;
  /** program paths, for tests; default 'ip' and 'bridge' from PATH */
  ipPath?: string;
  bridgePath?: string;
  /** batches (runs with stdin input) die with this process and are recorded for the next start */
  batches?: BatchGuard;
}

export function createIproute(options: IprouteFactoryOptions = {}): Iproute {
  const nsArgs = options.netns !== undefined ? ['-n', options.netns] : [];
  const ipPath = options.ipPath ?? 'ip';
  const bridgePath = options.bridgePath ?? 'bridge';
  const iproute: Iproute = {
    ip: (args, opts) => run(ipPath, [...nsArgs, ...args], opts, options.batches),
    bridge: (args, opts) => run(bridgePath, [...nsArgs, ...args], opts, options.batches),
    // mirrors' tc batches die with the daemon too
    tc: (args, opts) => run('tc', [...nsArgs, ...args], opts, options.batches),
  };
  return options.netns !== undefined ? { ...iproute, netns: options.netns } : iproute;
}

async function run(program: string, args: string[], opts: IprouteRunOptions = {}, guard?: BatchGuard): Promise<string> {
  const [cmd, argv] = guard && opts.input !== undefined ? guard.command(program, args) : [program, args];
  const child = execa(cmd, argv, {
    // stdin is closed (not inherited) unless we feed a batch: ip must never wait on a terminal
    ...(opts.input !== undefined ? {} : { stdin: 'ignore' as const }),
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
    stripFinalNewline: true,
    reject: false,
    // a dump of 1000+ links is several MB; no artificial cap below what the kernel can return
    maxBuffer: 1024 * 1024 * 1024,
    // the C locale keeps iproute2's messages stable for logs and tests
    env: { LC_ALL: 'C' },
    extendEnv: true,
  });
  // written here, not through execa's `input` (which starts a few turns of the loop later): the
  // first pipe's worth is in the pipe when this returns, so a caller may then use the CPU for a
  // while (a change prepares its commit) without stalling the batch
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  if (guard && opts.input !== undefined) guard.started(child.pid);
  let result;
  try {
    result = await child;
  } finally {
    if (guard && opts.input !== undefined) guard.ended(child.pid);
  }
  if (result.failed) {
    const stderr = typeof result.stderr === 'string' && result.stderr.length > 0
      ? result.stderr
      : (result.originalMessage ?? result.shortMessage ?? '');
    throw iprouteError([program, ...args], result.exitCode ?? null, stderr, result.cause);
  }
  return result.stdout;
}
