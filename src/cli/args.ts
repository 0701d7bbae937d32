/**
 * hostnetctl's command line, pure: argv → what to do. Global options may come before or after
 * the command. `setup` flags are read in order: each --net starts a new network and the
 * network flags after it (--nic, --ip, --mtu, ...) describe that network.
 */
import { parseArgs } from 'node:util';
import type { SetupRequest } from '../model/types.js';
import { dict, hasKey, isPlainObject } from '../model/dict.js';
import { usageError } from '../errors.js';

export const DEFAULT_SOCKET = '/run/hostnetd/hostnetd.sock';


export type TargetSpec =
  | { kind: 'unix'; path: string }
  | { kind: 'url'; url: string; tlsCert?: string; tlsKey?: string; tlsCa?: string };

export type Command =
  | { cmd: 'help'; topic?: string }
  | { cmd: 'caps' }
  | { cmd: 'stats' }
  | { cmd: 'ping' }
  | { cmd: 'confirm' }
  | { cmd: 'persist' }
  | { cmd: 'events' }
  | { cmd: 'call'; method: string; params?: unknown }
  | {
      cmd: 'setup';
      /** from flags; absent when a file is given */
      request?: SetupRequest;
      /** a JSON file ('-' for stdin) with {networks, bondings?, options?} */
      file?: string;
      /** option overrides from flags, applied over the file's */
      options: Record<string, unknown>;
      /** confirm connectivity from this client while waiting */
      confirm: boolean;
    };

export interface Invocation {
  command: Command;
  target: TargetSpec;
  json: boolean;
}

const GLOBAL = {
  socket: { type: 'string' },
  url: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const NET_VALUE_FLAGS = ['nic', 'bond', 'vlan', 'ip', 'gateway', 'mtu', 'nameserver', 'mac-table-manager', 'qos-out-ls', 'qos-out-ul', 'qos-out-rt'] as const;
const NET_BOOL_FLAGS = ['bridged', 'bridgeless', 'default-route', 'stp', 'port-isolation', 'dhcp', 'dhcpv6', 'autoconf', 'blocking-dhcp'] as const;
const BOND_VALUE_FLAGS = ['slaves', 'options', 'bond-hwaddr'] as const;

const SETUP = {
  net: { type: 'string', multiple: true },
  remove: { type: 'string', multiple: true },
  nic: { type: 'string', multiple: true },
  bond: { type: 'string', multiple: true },
  vlan: { type: 'string', multiple: true },
  ip: { type: 'string', multiple: true },
  gateway: { type: 'string', multiple: true },
  mtu: { type: 'string', multiple: true },
  nameserver: { type: 'string', multiple: true },
  bridged: { type: 'boolean', multiple: true },
  bridgeless: { type: 'boolean', multiple: true },
  'default-route': { type: 'boolean', multiple: true },
  stp: { type: 'boolean', multiple: true },
  'port-isolation': { type: 'boolean', multiple: true },
  'mac-table-manager': { type: 'string', multiple: true },
  'qos-out-ls': { type: 'string', multiple: true },
  'qos-out-ul': { type: 'string', multiple: true },
  'qos-out-rt': { type: 'string', multiple: true },
  'bond-def': { type: 'string', multiple: true },
  'remove-bond': { type: 'string', multiple: true },
  slaves: { type: 'string', multiple: true },
  options: { type: 'string', multiple: true },
  'bond-hwaddr': { type: 'string', multiple: true },
  dhcp: { type: 'boolean', multiple: true },
  dhcpv6: { type: 'boolean', multiple: true },
  autoconf: { type: 'boolean', multiple: true },
  'blocking-dhcp': { type: 'boolean', multiple: true },
  'no-confirm': { type: 'boolean' },
  'no-check': { type: 'boolean' },
  timeout: { type: 'string' },
  commit: { type: 'boolean' },
} as const;

const COMMANDS = ['caps', 'stats', 'call', 'setup', 'persist', 'confirm', 'ping', 'events', 'help'] as const;

export function parseCli(argv: string[]): Invocation {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...GLOBAL, ...SETUP }, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw usageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values, positionals, tokens } = parsed;
  const [name, ...rest] = positionals;
  const target = parseTarget(values);
  const json = values.json === true;
  if (name === undefined) {
    if (values.help) return { command: { cmd: 'help' }, target, json };
    throw usageError('no command given');
  }
  if (!(COMMANDS as readonly string[]).includes(name)) throw usageError(`unknown command ${JSON.stringify(name)}`);
  if (values.help) return { command: { cmd: 'help', topic: name }, target, json };
  const usedSetupFlags = tokens.filter((t) => t.kind === 'option' && t.name in SETUP).map((t) => (t as { rawName: string }).rawName);
  if (name !== 'setup' && usedSetupFlags.length > 0) {
    throw usageError(`${usedSetupFlags[0]} is an option of 'setup', not of '${name}'`, name);
  }
  switch (name) {
    case 'help':
      return { command: rest[0] !== undefined ? { cmd: 'help', topic: rest[0] } : { cmd: 'help' }, target, json };
    case 'call':
      return { command: parseCall(rest), target, json };
    case 'setup':
      return { command: parseSetup(rest, tokens, values), target, json };
    default:
      if (rest.length > 0) throw usageError(`'${name}' takes no arguments (got ${JSON.stringify(rest[0])})`, name);
      return { command: { cmd: name as 'caps' }, target, json };
  }
}

function parseTarget(values: Record<string, unknown>): TargetSpec {
  const socket = values.socket as string | undefined;
  const given = values.url as string | undefined;
  const tls = ['tls-cert', 'tls-key', 'tls-ca'].filter((k) => values[k] !== undefined);
  if (socket !== undefined && given !== undefined) throw usageError('give --socket or --url, not both');
  if (given === undefined) {
    if (tls.length > 0) throw usageError(`--${tls[0]} is for --url tls://...; a unix socket needs no TLS`);
    return { kind: 'unix', path: socket ?? DEFAULT_SOCKET };
  }
  if (!/^(wss?|tcp|tls):\/\//.test(given)) throw usageError(`--url ${given}: expected tcp://HOST:PORT or tls://HOST:PORT (or ws://, wss://)`);
  // the daemon serves WebSocket on its tcp:// and tls:// listeners too; hostnetctl speaks WebSocket
  const url = given.replace(/^tcp:/, 'ws:').replace(/^tls:/, 'wss:');
  if (url.startsWith('ws:') && tls.length > 0) throw usageError(`--${tls[0]} needs a tls:// (or wss://) URL`);
  const t: TargetSpec = { kind: 'url', url };
  if (values['tls-cert'] !== undefined) t.tlsCert = values['tls-cert'] as string;
  if (values['tls-key'] !== undefined) t.tlsKey = values['tls-key'] as string;
  if (values['tls-ca'] !== undefined) t.tlsCa = values['tls-ca'] as string;
  if ((t.tlsCert === undefined) !== (t.tlsKey === undefined)) throw usageError('--tls-cert and --tls-key go together');
  return t;
}

function parseCall(rest: string[]): Command {
  const [method, json, extra] = rest;
  if (method === undefined) throw usageError('call needs a METHOD, e.g. hostnetctl call Host.ping2', 'call');
  if (extra !== undefined) throw usageError('call takes METHOD and at most one JSON argument (quote it)', 'call');
  if (json === undefined) return { cmd: 'call', method };
  let params: unknown;
  try {
    params = JSON.parse(json);
  } catch (e) {
    throw usageError(`call ${method}: the params are not valid JSON: ${(e as Error).message}`, 'call');
  }
  if (typeof params !== 'object' || params === null) {
    throw usageError(`call ${method}: params must be a JSON object or array`, 'call');
  }
  return { cmd: 'call', method, params };
}

type Token = ReturnType<typeof parseArgs>['tokens'] extends (infer T)[] | undefined ? T : never;

function parseSetup(rest: string[], tokens: Token[], values: Record<string, unknown>): Command {
  const options: Record<string, unknown> = {};
  if (values.timeout !== undefined) {
    const t = Number(values.timeout);
    if (!Number.isFinite(t) || t <= 0) throw usageError(`--timeout ${values.timeout}: expected seconds > 0`, 'setup');
    options.connectivityTimeout = t;
  }
  if (values.commit) options.commitOnSuccess = true;
  if (values['no-check']) options.connectivityCheck = false;
  const confirm = !values['no-confirm'] && !values['no-check'];
  const { networks, bondings } = entitiesFromTokens(tokens);
  const named = Object.keys(networks).length + Object.keys(bondings).length;
  if (rest.length > 1) throw usageError('setup takes at most one FILE', 'setup');
  if (rest.length === 1) {
    if (named > 0) throw usageError('give a FILE or --net/--remove/--bond-def/--remove-bond flags, not both', 'setup');
    return { cmd: 'setup', file: rest[0]!, options, confirm };
  }
  if (named === 0) throw usageError('setup needs a FILE or at least one --net, --remove, --bond-def or --remove-bond', 'setup');
  return { cmd: 'setup', request: { networks, bondings, options }, options, confirm };
}

type Table = Record<string, Record<string, unknown>>;

/**
 * Networks and bonds from the flags, in order: --net NAME and --bond-def NAME start an entity
 * that the flags after them describe; --remove NAME and --remove-bond NAME remove one. Names are
 * the user's, so the tables have no prototype ('toString' is a valid network name).
 */
export function entitiesFromTokens(tokens: Token[]): { networks: Table; bondings: Table } {
  const networks: Table = dict();
  const bondings: Table = dict();
  let current: { kind: 'net' | 'bond'; attrs: Record<string, unknown> } | undefined;
  let currentName = '';
  let removal = '';
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const value = t.value;
    if (t.name === 'net' || t.name === 'remove' || t.name === 'bond-def' || t.name === 'remove-bond') {
      const isBond = t.name === 'bond-def' || t.name === 'remove-bond';
      const table = isBond ? bondings : networks;
      if (!value) throw usageError(`--${t.name} needs a ${isBond ? 'bond' : 'network'} name`, 'setup');
      if (hasKey(table, value)) throw usageError(`${isBond ? 'bond' : 'network'} ${value} is named twice`, 'setup');
      const removing = t.name === 'remove' || t.name === 'remove-bond';
      table[value] = removing ? { remove: true } : {};
      current = removing ? undefined : { kind: isBond ? 'bond' : 'net', attrs: table[value]! };
      currentName = value;
      removal = removing ? `--${t.name} ${value}` : '';
      continue;
    }
    const forNet = (NET_VALUE_FLAGS as readonly string[]).includes(t.name) || (NET_BOOL_FLAGS as readonly string[]).includes(t.name);
    const forBond = (BOND_VALUE_FLAGS as readonly string[]).includes(t.name);
    if (!forNet && !forBond) continue;
    if (!current || current.kind !== (forNet ? 'net' : 'bond')) {
      const after = current === undefined && removal ? ` (${removal} takes no attributes)` : '';
      throw usageError(`${t.rawName} must follow the ${forNet ? '--net' : '--bond-def'} NAME it describes${after}`, 'setup');
    }
    if (forNet) applyNetFlag(current.attrs, t.name, value, currentName);
    else applyBondFlag(current.attrs, t.name, value!, currentName);
  }
  return { networks, bondings };
}

function applyBondFlag(bond: Record<string, unknown>, flag: string, value: string, name: string): void {
  const key = flag === 'bond-hwaddr' ? 'hwaddr' : flag === 'slaves' ? 'nics' : 'options';
  if (hasKey(bond, key)) throw usageError(`bond ${name}: --${flag} given twice`, 'setup');
  bond[key] = flag === 'slaves' ? value.split(',').map((n) => n.trim()).filter((n) => n !== '') : value;
}

/**
 * A host QoS curve: 'M2' (Mbit/s, the long-term rate: m2 = M2 × 1,000,000 bits/s, as VDSM's
 * tests spell rates) or 'm1=4000000,d=100000,m2=3000000' in VDSM's own units (bits/s, µs).
 * Odd values are passed on so the daemon names the problem.
 */
function qosCurve(flag: string, spec: string): Record<string, unknown> {
  if (/^\d+$/.test(spec)) return { m2: Number(spec) * 1_000_000 };
  const curve: Record<string, unknown> = {};
  for (const part of spec.split(',')) {
    const [k, v, extra] = part.split('=');
    if (!k || v === undefined || extra !== undefined || !['m1', 'd', 'm2'].includes(k)) {
      throw usageError(`--${flag} ${spec}: expected M2 or m1=N,d=N,m2=N`, 'setup');
    }
    curve[k] = numeric(v);
  }
  return curve;
}

/** Numbers where the wire has numbers; anything odd is passed as given so the daemon names the problem. */
const numeric = (v: string): number | string => (/^\d+$/.test(v) ? Number(v) : v);

function applyNetFlag(net: Record<string, unknown>, flag: string, value: string | undefined, name: string): void {
  const once = (key: string, v: unknown) => {
    if (hasKey(net, key)) throw usageError(`network ${name}: --${flag} given twice (or conflicts with another flag)`, 'setup');
    net[key] = v;
  };
  switch (flag) {
    case 'nic':
      return once('nic', value);
    case 'bond':
      return once('bonding', value);
    case 'vlan':
      return once('vlan', numeric(value!));
    case 'mtu':
      return once('mtu', numeric(value!));
    case 'ip': {
      const [addr, prefix, extra] = value!.split('/');
      if (!addr || prefix === undefined || extra !== undefined) {
        throw usageError(`--ip ${value}: expected ADDRESS/PREFIX, e.g. 192.0.2.10/24 or 2001:db8::10/64`, 'setup');
      }
      if (addr.includes(':')) return once('ipv6addr', value);
      once('ipaddr', addr);
      return once('prefix', numeric(prefix));
    }
    case 'gateway':
      return once(value!.includes(':') ? 'ipv6gateway' : 'gateway', value);
    case 'nameserver':
      net.nameservers = [...((net.nameservers as string[] | undefined) ?? []), value!];
      return;
    case 'bridged':
      return once('bridged', true);
    case 'bridgeless':
      return once('bridged', false);
    case 'default-route':
      return once('defaultRoute', true);
    case 'stp':
      return once('stp', true);
    case 'port-isolation':
      return once('portIsolation', true);
    case 'mac-table-manager':
      return once('macTableManager', value);
    case 'qos-out-ls':
    case 'qos-out-ul':
    case 'qos-out-rt': {
      const curve = flag.slice('qos-out-'.length);
      const qos = (net.hostQos ??= { out: {} }) as { out: Record<string, unknown> };
      if (hasKey(qos.out, curve)) throw usageError(`network ${name}: --${flag} given twice`, 'setup');
      qos.out[curve] = qosCurve(flag, value!);
      return;
    }
    case 'dhcp':
      return once('bootproto', 'dhcp');
    case 'dhcpv6':
      return once('dhcpv6', true);
    case 'autoconf':
      return once('ipv6autoconf', true);
    case 'blocking-dhcp':
      return once('blockingdhcp', true);
  }
}

/** A setup request from a file's JSON text, with flag options laid over the file's. */
export function requestFromJson(text: string, source: string, options: Record<string, unknown>): SetupRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw usageError(`${source}: not valid JSON: ${(e as Error).message}`, 'setup');
  }
  if (!isPlainObject(doc) || !isPlainObject(doc.networks)) {
    throw usageError(`${source}: expected {"networks": {...}, "bondings": {...}, "options": {...}}`, 'setup');
  }
  const known = new Set(['networks', 'bondings', 'options']);
  const unknown = Object.keys(doc).find((k) => !known.has(k));
  if (unknown) throw usageError(`${source}: unknown key ${JSON.stringify(unknown)} (expected networks, bondings, options)`, 'setup');
  const bondings = doc.bondings ?? {};
  const fileOptions = doc.options ?? {};
  if (!isPlainObject(bondings) || !isPlainObject(fileOptions)) throw usageError(`${source}: bondings and options must be objects`, 'setup');
  return { networks: doc.networks as SetupRequest['networks'], bondings: bondings as SetupRequest['bondings'], options: { ...fileOptions, ...options } };
}
