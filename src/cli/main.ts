/**
 * bin/hostnetctl. Exit status: 0 success, 1 the daemon answered an error (code and message on
 * stderr), 2 usage or connection error.
 */
import { readFile } from 'node:fs/promises';
import type { SetupRequest } from '../model/types.js';
import { ErrorCode, HostnetError, isHostnetError, usageError } from '../errors.js';
import { parseCli, requestFromJson, type Command, type TargetSpec } from './args.js';
import { RpcClient, type ClientTarget as Target } from '../rpc/client.js';
import { formatCapabilities, formatStatistics } from './format.js';
import { phaseOf, ProgressView, showsProgress } from './progress.js';
import { progressMethod } from '../model/progress.js';
import { helpFor } from './usage.js';

const out = (text: string) => process.stdout.write(text.endsWith('\n') ? text : text + '\n');
const err = (text: string) => process.stderr.write(`hostnetctl: ${text}\n`);

async function main(argv: string[]): Promise<number> {
  let inv;
  try {
    inv = parseCli(argv);
  } catch (e) {
    if (!isHostnetError(e, ErrorCode.USAGE)) throw e;
    err(e.message);
    const topic = (e.detail as { topic?: string } | undefined)?.topic;
    process.stderr.write(`Run 'hostnetctl ${topic ? `${topic} ` : ''}--help' for usage.\n`);
    return 2;
  }
  const { command, json } = inv;
  if (command.cmd === 'help') {
    out(helpFor(command.topic));
    return 0;
  }
  let method = '';
  try {
    const target = await resolveTarget(inv.target);
    method = verbOf(command);
    const result = await run(command, target, json);
    if (json) out(JSON.stringify(result, null, 2));
    return 0;
  } catch (e) {
    if (isHostnetError(e, ErrorCode.CONNECTION) || isHostnetError(e, ErrorCode.USAGE)) {
      err(e.message);
      return 2;
    }
    if (e instanceof HostnetError) {
      err(`${method} failed: error ${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

function verbOf(c: Command): string {
  switch (c.cmd) {
    case 'caps':
      return 'Host.getCapabilities';
    case 'stats':
      return 'Host.getNetworkStatistics';
    case 'ping':
      return 'Host.ping2';
    case 'confirm':
      return 'Host.confirmConnectivity';
    case 'persist':
      return 'Host.setSafeNetworkConfig';
    case 'events':
      return 'Host.subscribeEvents';
    case 'setup':
      return 'Host.setupNetworks';
    case 'call':
      return c.method;
    case 'help':
      return '';
  }
}

async function resolveTarget(spec: TargetSpec): Promise<Target> {
  if (spec.kind === 'unix') return { url: `unix:${spec.path}` };
  const read = async (flag: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return await readFile(file);
    } catch (e) {
      throw usageError(`${flag} ${file}: cannot read it: ${(e as Error).message}`);
    }
  };
  const tls: { cert?: Buffer; key?: Buffer; ca?: Buffer } = {};
  const [cert, key, ca] = await Promise.all([read('--tls-cert', spec.tlsCert), read('--tls-key', spec.tlsKey), read('--tls-ca', spec.tlsCa)]);
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (ca) tls.ca = ca;
  return { url: spec.url, tls };
}

/** Runs the command; prints tables itself in text mode and returns the raw result for --json. */
async function run(command: Command, target: Target, json: boolean): Promise<unknown> {
  if (command.cmd === 'setup') return runSetup(command, target, json);
  if (command.cmd === 'events') return runEvents(target, json);
  const client = await RpcClient.open(target);
  try {
    const started = performance.now();
    const result = await client.call(verbOf(command), command.cmd === 'call' ? command.params : undefined);
    if (json) return result;
    switch (command.cmd) {
      case 'caps':
        out(formatCapabilities(result));
        break;
      case 'stats':
        out(formatStatistics(result));
        break;
      case 'ping':
        out(`hostnetd answered in ${(performance.now() - started).toFixed(1)} ms`);
        break;
      case 'confirm':
        out('connectivity confirmed');
        break;
      case 'persist':
        out('the running network config is now the safe one (restored at boot)');
        break;
      case 'call':
        out(JSON.stringify(result, null, 2));
        break;
    }
    return result;
  } finally {
    client.close();
  }
}

async function runSetup(command: Extract<Command, { cmd: 'setup' }>, target: Target, json: boolean): Promise<unknown> {
  const request = command.request ?? (await requestFromFile(command.file!, command.options));
  const check = request.options.connectivityCheck !== false;
  const client = await RpcClient.open(target);
  const view = showsProgress({ isTTY: process.stdout.isTTY, json }) ? await watchProgress(client) : undefined;
  const confirmer = command.confirm && check ? startConfirmer(target) : undefined;
  let result: unknown;
  try {
    view?.start();
    const r = await client.request('Host.setupNetworks', { networks: request.networks, bondings: request.bondings, options: request.options }, SETUP_ID);
    if (r.error) throw new HostnetError(r.error.code, r.error.message, { data: r.error.data });
    result = r.result;
  } finally {
    view?.finish();
    await confirmer?.stop();
    client.close();
  }
  if (!json) {
    const names = Object.entries(request.networks).map(([n, a]) => `${n} (${(a as { remove?: unknown }).remove === true ? 'removed' : 'set up'})`);
    const bonds = Object.entries(request.bondings).map(([n, a]) => `${n} (${(a as { remove?: unknown }).remove === true ? 'removed' : 'set up'})`);
    out(`applied: ${[...names, ...bonds].join(', ') || 'nothing'}`);
    if (request.options.commitOnSuccess !== true) out("not persistent yet: run 'hostnetctl persist' to keep this config across reboots");
  }
  return result;
}

/** The id of hostnetctl's one setupNetworks on its connection; its progress arrives as |net|progress|<id>. */
const SETUP_ID = 'setup';

/**
 * On a terminal, the change's phases as the daemon reports them: the connection subscribes to
 * events first (only this connection gets its request's progress). A daemon that cannot
 * deliver them leaves the wait silent, as before.
 */
async function watchProgress(client: RpcClient): Promise<ProgressView | undefined> {
  try {
    await client.call('Host.subscribeEvents');
  } catch (e) {
    // the daemon's refusal (an older daemon, a transport without events); a lost connection is not one
    if (e instanceof HostnetError && !isHostnetError(e, ErrorCode.CONNECTION)) return undefined;
    throw e;
  }
  const view = new ProgressView((text) => process.stdout.write(text));
  client.onUnmatched((msg) => {
    const n = msg as { method?: unknown; params?: unknown };
    if (n.method !== progressMethod(SETUP_ID)) return;
    const phase = phaseOf(n.params);
    if (phase) view.phase(phase);
  });
  return view;
}

/** Prints the daemon's notifications as they come, until the connection ends or Ctrl-C. */
async function runEvents(target: Target, json: boolean): Promise<undefined> {
  const client = await RpcClient.open(target);
  client.onUnmatched((msg) => {
    const n = msg as { method?: unknown; params?: unknown };
    if (typeof n.method !== 'string') return;
    if (json) return out(JSON.stringify({ jsonrpc: '2.0', method: n.method, params: n.params }));
    // notify_time is monotonic (VDSM's event time): print when it arrived instead
    const when = new Date().toISOString();
    const what = n.method === '|net|host_conn|no_id' ? "a managed network's device changed (the engine re-reads 'hostnetctl caps')" : JSON.stringify(n.params);
    out(`${when}  ${n.method}  ${what}`);
  });
  await client.call('Host.subscribeEvents');
  if (!json) process.stderr.write('hostnetctl: waiting for events (Ctrl-C to stop)\n');
  const stop = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  const why = await Promise.race([client.closed, stop]);
  if (why) throw why.error;
  await client.close();
  return undefined;
}

async function requestFromFile(file: string, options: Record<string, unknown>): Promise<SetupRequest> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (e) {
    throw usageError(`cannot read ${file}: ${(e as Error).message}`, 'setup');
  }
  return requestFromJson(text, file === '-' ? 'stdin' : file, options);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * While setupNetworks waits for its connectivity check, prove from here that the host is
 * reachable: a second connection confirms every half second. If the change cut us off, the
 * confirmations stop arriving and the daemon rolls back, as it would for the engine.
 */
function startConfirmer(target: Target): { stop(): Promise<void> } {
  let stopped = false;
  let wake: () => void = () => undefined;
  let conn: RpcClient | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        conn ??= await RpcClient.open(target, { timeoutMs: 2000 });
        await conn.call('Host.confirmConnectivity');
      } catch {
        conn?.close();
        conn = undefined;
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake();
      await loop;
      conn?.close();
    },
  };
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    err(`unexpected failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 2;
  },
);
