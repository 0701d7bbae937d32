/**
 * The daemon's options: defaults < --config FILE (JSON, keys are the long flags in camelCase)
 * < command line. Pure apart from the injected file reader, so every rule is unit-tested.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import * as path from 'node:path';
import { isLoopback, isTlsListener, parseListen, type ListenSpec } from '../rpc/listen.js';
import { usageError } from '../errors.js';
import { VIEW_RCVBUF } from '../kernel/view.js';

/** VDSM's certificate paths: a host the engine enrolled has them; used when no --tls-* is given. */
export const VDSM_TLS = {
  cert: '/etc/pki/vdsm/certs/vdsmcert.pem',
  key: '/etc/pki/vdsm/keys/vdsmkey.pem',
  ca: '/etc/pki/vdsm/certs/cacert.pem',
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface DaemonOptions {
  stateDir: string;
  runDir: string;
  logLevel: LogLevel;
  /** globs of devices treated as NICs besides physical ones */
  fakeNics: string[];
  /** 'none' disables libvirt */
  libvirtUri: string;
  listen: ListenSpec[];
  /** file paths; all three present whenever a wss listener is configured */
  tls?: { cert: string; key: string; ca: string };
  allowOrigins: string[];
  resolvConf: string;
  maxConnections: number;
  /** seconds between keepalive pings */
  keepalive: number;
  /** seconds a blockingdhcp change (and the boot-time restore) waits for DHCP leases */
  dhcpTimeout: number;
  /** rehearsals of a change before serving (apply/warm-up.ts); 0: none */
  warmUp: number;
  /** receive buffer of the kernel view's rtnetlink socket, bytes (an overflow means re-reading everything) */
  netlinkRcvbuf: number;
  /** the Prometheus scrape endpoint (--metrics), off when absent */
  metrics?: MetricsListen;
}

/** --metrics http://127.0.0.1:9540/metrics (loopback only) or https://ADDR:PORT/PATH (client certificates) */
export interface MetricsListen {
  url: string;
  tls: boolean;
  host: string;
  port: number;
  path: string;
}


export const DEFAULTS = {
  stateDir: '/var/lib/hostnetd',
  runDir: '/run/hostnetd',
  logLevel: 'info' as LogLevel,
  fakeNics: 'dummy_*,veth_*',
  libvirtUri: 'qemu:///system',
  resolvConf: '/etc/resolv.conf',
  maxConnections: 256,
  keepalive: 30,
  dhcpTimeout: 60,
  warmUp: 4,
  netlinkRcvbuf: VIEW_RCVBUF,
};

export const DAEMON_USAGE = `Usage: hostnetd [options]          run the daemon (manages the network namespace it starts in)
       hostnetd restore [options]  apply the safe network config at boot, then exit

Options (a --config file may set any of them; the command line wins):
  --config FILE          JSON object whose keys are these long options in camelCase,
                         e.g. {"stateDir": "/var/lib/hostnetd", "listen": ["unix:/run/hostnetd/hostnetd.sock"]}
  --state-dir DIR        running/safe config, journal and lock (default ${DEFAULTS.stateDir})
  --run-dir DIR          runtime files, the default socket (default ${DEFAULTS.runDir})
  --listen URL           repeatable: unix:PATH (mode 0600), tcp://ADDR:PORT (loopback only),
                         tls://ADDR:PORT (TLS, client certificates required); ws:// and wss://
                         are the same as tcp:// and tls://. Every listener serves WebSocket and
                         STOMP 1.2 (the engine's protocol) on the one port.
                         (default unix:<run-dir>/hostnetd.sock; the engine uses tls://0.0.0.0:54321)
  --tls-cert FILE        server certificate (PEM) for tls/wss listeners
                         (default, when no --tls-* is given: ${VDSM_TLS.cert})
  --tls-key FILE         its private key (PEM) (default ${VDSM_TLS.key})
  --tls-ca FILE          CA that client certificates must chain to; clients without one are refused
                         (default ${VDSM_TLS.ca})
  --allow-origin ORIGIN  repeatable: an Origin header allowed to upgrade (default: none, so
                         browsers are refused)
  --fake-nics GLOBS      devices treated as NICs besides physical ones (default '${DEFAULTS.fakeNics}')
  --libvirt-uri URI      libvirt connection, or 'none' (default ${DEFAULTS.libvirtUri})
  --resolv-conf FILE     resolver file for nameservers (default ${DEFAULTS.resolvConf})
  --log-level LEVEL      ${LOG_LEVELS.join('|')} (default ${DEFAULTS.logLevel})
  --max-connections N    concurrent client connections (default ${DEFAULTS.maxConnections})
  --keepalive SECONDS    ping interval; a peer silent for two intervals is dropped (default ${DEFAULTS.keepalive})
  --dhcp-timeout SECONDS how long a blockingdhcp change, and 'hostnetd restore', wait for DHCP
                         leases (default ${DEFAULTS.dhcpTimeout}); a blockingdhcp change without them fails with 29
  --warm-up ROUNDS       rehearsals of a 500-network change, on made-up data, before serving, so the
                         first change runs optimized code (default ${DEFAULTS.warmUp}; 0: none)
  --netlink-rcvbuf BYTES receive buffer of the kernel view's rtnetlink socket (default ${DEFAULTS.netlinkRcvbuf}:
                         a 1000-network change queues tens of thousands of notifications); when it
                         overflows the view reads the kernel again and the engine is told to re-read
  --metrics URL          Prometheus metrics at http://127.0.0.1:9540/metrics (loopback only) or
                         https://ADDR:PORT/PATH (TLS with client certificates, as tls://); off by default
  -h, --help             this text
`;

const FLAGS = {
  config: { type: 'string' },
  'state-dir': { type: 'string' },
  'run-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'fake-nics': { type: 'string' },
  'libvirt-uri': { type: 'string' },
  listen: { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'allow-origin': { type: 'string', multiple: true },
  'resolv-conf': { type: 'string' },
  'max-connections': { type: 'string' },
  keepalive: { type: 'string' },
  'dhcp-timeout': { type: 'string' },
  'warm-up': { type: 'string' },
  'netlink-rcvbuf': { type: 'string' },
  metrics: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type FlagName = Exclude<keyof typeof FLAGS, 'help' | 'config'>;
const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
/** config-file key → flag */
const CONFIG_KEYS = new Map<string, FlagName>(
  (Object.keys(FLAGS) as (keyof typeof FLAGS)[])
    .filter((f): f is FlagName => f !== 'help' && f !== 'config')
    .map((f) => [camel(f), f]),
);

type Raw = Partial<Record<FlagName, string | string[]>>;

/** 'help' when --help was asked for. */
export function parseDaemonArgs(argv: string[], readFile: (file: string) => string): DaemonOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: false, strict: true });
  } catch (e) {
    throw usageError((e as Error).message);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const fromFile = values.config !== undefined ? readConfigFile(values.config, readFile) : {};
  const fromArgs: Raw = {};
  for (const [k, v] of Object.entries(values)) {
    if (k !== 'help' && k !== 'config' && v !== undefined) fromArgs[k as FlagName] = v as string | string[];
  }
  return resolve({ ...fromFile, ...fromArgs });
}

/**
 * The --config file's schema: one optional key per long flag, in camelCase. A flag that repeats
 * (and fakeNics) takes a string or a list of strings, the others a string or a number.
 */
export const DaemonConfigFileSchema = z.strictObject(
  Object.fromEntries(
    [...CONFIG_KEYS].map(([key, flag]) => {
      const list = 'multiple' in FLAGS[flag] || flag === 'fake-nics';
      const value = list
        ? z.union([z.string(), z.array(z.string())], { error: `${key} must be a string or a list of strings` })
        : z.union([z.string(), z.number()], { error: `${key} must be a string` });
      return [key, value.optional()];
    }),
  ),
);

function readConfigFile(file: string, readFile: (file: string) => string): Raw {
  let text: string;
  try {
    text = readFile(file);
  } catch (e) {
    throw usageError(`--config ${file}: cannot read it: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw usageError(`--config ${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw usageError(`--config ${file}: expected a JSON object of options`);
  }
  const unknown = Object.keys(doc).find((key) => !CONFIG_KEYS.has(key));
  if (unknown !== undefined) {
    throw usageError(`--config ${file}: unknown key ${JSON.stringify(unknown)}; known: ${[...CONFIG_KEYS.keys()].join(', ')}`);
  }
  const r = DaemonConfigFileSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw usageError(`--config ${file}: field ${issue.path.map(String).join('.')}: ${issue.message}`);
  }
  const raw: Raw = {};
  for (const [key, value] of Object.entries(r.data)) {
    if (value === undefined) continue;
    const flag = CONFIG_KEYS.get(key)!;
    if (flag === 'fake-nics') raw[flag] = Array.isArray(value) ? value.join(',') : String(value);
    else if ('multiple' in FLAGS[flag]) raw[flag] = Array.isArray(value) ? value : [String(value)];
    else raw[flag] = String(value);
  }
  return raw;
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[v.length - 1] : v);
const many = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** A whole-number option, at least `least` (1 unless said). */
function intAtLeast(flag: string, v: string | undefined, fallback: number, least = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  const expected = least === 0 ? 'an integer of 0 or more' : least === 1 ? 'a positive integer' : `an integer of ${least} or more`;
  if (!Number.isInteger(n) || n < least) throw usageError(`--${flag} ${v}: expected ${expected}`);
  return n;
}

/** --netlink-rcvbuf: a page at least; at most 1 GiB (the kernel takes an int, and doubles it) */
function rcvbufBytes(v: string | undefined): number {
  const n = intAtLeast('netlink-rcvbuf', v, DEFAULTS.netlinkRcvbuf, 4096);
  if (n > 1 << 30) throw usageError(`--netlink-rcvbuf ${v}: expected at most ${1 << 30} (1 GiB)`);
  return n;
}

function resolve(raw: Raw): DaemonOptions {
  const stateDir = path.resolve(one(raw['state-dir']) ?? DEFAULTS.stateDir);
  const runDir = path.resolve(one(raw['run-dir']) ?? DEFAULTS.runDir);
  const logLevel = one(raw['log-level']) ?? DEFAULTS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw usageError(`--log-level ${logLevel}: expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const fakeNics = (one(raw['fake-nics']) ?? DEFAULTS.fakeNics)
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g.length > 0);
  const listenUrls = many(raw.listen);
  // a relative unix path is taken from the current directory, like every other path option
  const listen = (listenUrls.length > 0 ? listenUrls : [`unix:${path.join(runDir, 'hostnetd.sock')}`]).map((u) =>
    parseListen(u.startsWith('unix:') && !u.startsWith('unix:/') ? `unix:${path.resolve(u.slice(5))}` : u),
  );
  const metricsUrl = one(raw.metrics);
  const metrics = metricsUrl === undefined ? undefined : parseMetrics(metricsUrl);
  const tlsFiles = { cert: one(raw['tls-cert']), key: one(raw['tls-key']), ca: one(raw['tls-ca']) };
  const secure: { url: string }[] = [...listen.filter(isTlsListener), ...(metrics?.tls ? [metrics] : [])];
  let tls: DaemonOptions['tls'];
  if (tlsFiles.cert !== undefined && tlsFiles.key !== undefined && tlsFiles.ca !== undefined) {
    tls = { cert: path.resolve(tlsFiles.cert), key: path.resolve(tlsFiles.key), ca: path.resolve(tlsFiles.ca) };
  } else if (secure.length > 0 && Object.values(tlsFiles).every((v) => v === undefined)) {
    tls = { ...VDSM_TLS };
  } else if (secure.length > 0) {
    const missing = Object.entries(tlsFiles)
      .filter(([, v]) => v === undefined)
      .map(([k]) => `--tls-${k}`);
    throw usageError(`${secure[0]!.url} needs ${missing.join(', ')} too, or none of them for VDSM's /etc/pki/vdsm files (TLS with client certificates is mandatory off loopback)`);
  }
  const opts: DaemonOptions = {
    stateDir,
    runDir,
    logLevel: logLevel as LogLevel,
    fakeNics,
    libvirtUri: one(raw['libvirt-uri']) ?? DEFAULTS.libvirtUri,
    listen,
    allowOrigins: many(raw['allow-origin']),
    resolvConf: path.resolve(one(raw['resolv-conf']) ?? DEFAULTS.resolvConf),
    maxConnections: intAtLeast('max-connections', one(raw['max-connections']), DEFAULTS.maxConnections),
    keepalive: intAtLeast('keepalive', one(raw.keepalive), DEFAULTS.keepalive),
    dhcpTimeout: intAtLeast('dhcp-timeout', one(raw['dhcp-timeout']), DEFAULTS.dhcpTimeout),
    warmUp: intAtLeast('warm-up', one(raw['warm-up']), DEFAULTS.warmUp, 0),
    netlinkRcvbuf: rcvbufBytes(one(raw['netlink-rcvbuf'])),
  };
  if (tls) opts.tls = tls;
  if (metrics) {
    // the counters are read from the daemon's info-level events (src/daemon/metrics.ts)
    if (['warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
      throw usageError(`--metrics needs --log-level info, debug or trace (the counters are read from the info events), got ${logLevel}`);
    }
    opts.metrics = metrics;
  }
  return opts;
}

function parseMetrics(url: string): MetricsListen {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usageError(`--metrics ${url}: not a URL; expected http://127.0.0.1:9540/metrics or https://ADDR:PORT/metrics`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw usageError(`--metrics ${url}: the scheme must be http or https`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const explicitPort = /^https?:\/\/(?:\[[^\]]*\]|[^/:]*):(\d+)/i.exec(url)?.[1];
  if (explicitPort === undefined || Number(explicitPort) > 65535) throw usageError(`--metrics ${url}: a port is required (e.g. ${u.protocol}//127.0.0.1:9540/metrics)`);
  if (u.search || u.username || u.hash) throw usageError(`--metrics ${url}: only ${u.protocol}//ADDR:PORT/PATH is allowed`);
  const tls = u.protocol === 'https:';
  if (!tls && !isLoopback(host)) {
    throw usageError(`--metrics ${url}: plain http is allowed only on loopback addresses (127.0.0.1, ::1); use https://${u.host}${u.pathname} with client certificates`);
  }
  return { url, tls, host, port: Number(explicitPort), path: u.pathname === '' ? '/' : u.pathname };
}
