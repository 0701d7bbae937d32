/**
 * The one place that starts `ip` and `bridge` processes. Argument arrays only, never a shell:
 * names that reach here were validated, but a shell would still be one parser too many.
 *
 * The daemon runs inside the namespace it manages and passes no `netns`; tests drive a
 * namespace from outside with `createIproute({ netns })`, which prefixes `-n NS`.
 */
import { execa } from 'execa';
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
  /** the namespace this instance targets, if any */
  readonly netns?: string;
}

/** `ip`/`bridge` exited non-zero (or could not be started, or timed out). */
export class IprouteError extends Error {
  constructor(
    /** the full command line as run, program first */
    readonly command: readonly string[],
    /** null when the process did not exit normally (signal, timeout, spawn failure) */
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command.join(' ')} failed (exit ${exitCode ?? 'none'}): ${firstLine(stderr)}`);
    this.name = 'IprouteError';
  }
}

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
  };
  return options.netns !== undefined ? { ...iproute, netns: options.netns } : iproute;
}

async function run(program: string, args: string[], opts: IprouteRunOptions = {}, guard?: BatchGuard): Promise<string> {
  const [cmd, argv] = guard && opts.input !== undefined ? guard.command(program, args) : [program, args];
  const child = execa(cmd, argv, {
    // stdin is closed (not inherited) unless we feed a batch: ip must never wait on a terminal
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
    stripFinalNewline: true,
    reject: false,
    // a dump of 1000+ links is several MB; no artificial cap below what the kernel can return
    maxBuffer: 1024 * 1024 * 1024,
    // the C locale keeps iproute2's messages stable for logs and tests
    env: { LC_ALL: 'C' },
    extendEnv: true,
  });
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
    throw new IprouteError([program, ...args], result.exitCode ?? null, stderr);
  }
  return result.stdout;
}
