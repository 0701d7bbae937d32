/**
 * Bounded fuzzing of the real daemon in a namespace (issue 10): mutated Host.setupNetworks
 * requests (types swapped, prototype names and keys, huge and deeply nested values, unicode,
 * IPv6 zone ids, numbers as strings, ...) and raw malformed WebSocket frames. For every case:
 *   - an answer comes (no hang), and it is never -32603;
 *   - after a refusal, links, addresses, routes, running.json and safe.json are exactly as before;
 * and at the end the daemon is still alive, answers ping, and logged no internal error.
 *
 * Fixed seed, so a failure names a case that reproduces: HOSTNETD_FUZZ_SEED=<seed>
 * HOSTNETD_FUZZ_CASES=<n> npx vitest run test/integration/fuzz.test.ts. CI runs the default
 * (300 requests, 100 mutated frames plus the fixed malformed ones); the long run is e.g.
 * HOSTNETD_FUZZ_CASES=5000.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { comparableState } from '../helpers/state.js';

const SEED = Number(process.env.HOSTNETD_FUZZ_SEED ?? 20261202);
const CASES = Number(process.env.HOSTNETD_FUZZ_CASES ?? 300);
const FRAME_CASES = Math.ceil(CASES / 3);
/** An answer slower than this is a hang (a refused request answers in milliseconds). */
const ANSWER_MS = 60_000;
/** The tests' own bounds grow with the count: up to 5 s a case on a loaded machine, plus setup. */
const PHASE_MS = 10 * 60_000 + 5_000 * CASES;

// ---- a small seeded generator ----------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly rand: () => number) {}
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
}

/** JSON text that is spliced in as it is (a value too deep for JSON.stringify). */
class Raw {
  constructor(readonly text: string) {}
}
type Obj = Record<string, unknown>;
/** Objects are null-prototype so that a key named __proto__ is an ordinary key here too. */
const obj = (entries: [string, unknown][] = []): Obj => {
  const o = Object.create(null) as Obj;
  for (const [k, v] of entries) o[k] = v;
  return o;
};

function toJson(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  if (typeof v === 'number' && !Number.isFinite(v)) return '1e400';
  return JSON.stringify(v) ?? 'null';
}

const PROTO_NAMES = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];
const UNICODE = ['bré', 'ネット', '\u202eevil', 'a\u0000b', 'a\nb', 'net 1', '😀', 'e\u0301', '\ud800', 'a/b', 'a:b', '-x'];
const deep = (n: number, leaf = '"192.0.2.1"') => new Raw(`${'['.repeat(n)}${leaf}${']'.repeat(n)}`);
const deepObj = (n: number) => new Raw(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);

function weirdValue(g: Gen): unknown {
  return g.pick<() => unknown>([
    () => g.int(100000) - 50000,
    () => String(g.int(5000)),
    () => g.chance(0.5),
    () => null,
    () => [],
    () => obj(),
    () => '',
    () => 1.5,
    () => 1e308,
    () => -1,
    () => Infinity,
    () => 'x'.repeat(100_000),
    () => deep(20_000),
    () => deepObj(5_000),
    () => g.pick(UNICODE),
    () => g.pick(PROTO_NAMES),
    () => 'fe80::1%eth0',
    () => '0.0.0.0',
    () => '255.255.255.255',
    () => '224.0.0.1',
    () => 'ff02::1',
    () => '2001:db8::1%1/64',
    () => [g.pick(UNICODE), 1, null],
    () => obj([['__proto__', obj([['polluted', true]])]]),
  ])();
}

const NET_ATTRS = ['nic', 'bonding', 'vlan', 'bridged', 'mtu', 'stp', 'ipaddr', 'netmask', 'prefix', 'gateway', 'defaultRoute',
  'bootproto', 'ipv6addr', 'ipv6gateway', 'ipv6autoconf', 'dhcpv6', 'nameservers', 'switch', 'custom', 'remove',
  'portIsolation', 'macTableManager'];

/**
 * A valid request on veth_1..veth_3 (veth_0 keeps the baseline network). Network fzN always sits
 * on veth_N, so a later case edits or removes it rather than colliding with it. This kernel has
 * no 802.1q module: a vlan is refused before anything is touched (21, naming 8021q).
 */
function baseRequest(g: Gen): { networks: Obj; bondings: Obj } {
  const networks = obj();
  const bondings = obj();
  for (const n of [1, 2, 3]) {
    if (!g.chance(0.5)) continue;
    const name = `fz${n}`;
    if (g.chance(0.2)) {
      networks[name] = obj([['remove', true]]);
      continue;
    }
    const net = obj([['nic', `veth_${n}`]]);
    if (g.chance(0.1)) net.vlan = 1 + g.int(4094);
    if (g.chance(0.6)) Object.assign(net, { ipaddr: `198.51.${100 + n}.${1 + g.int(250)}`, prefix: 24 });
    if (net.ipaddr && g.chance(0.3)) net.gateway = `198.51.${100 + n}.254`;
    if (g.chance(0.3)) net.ipv6addr = `2001:db8:${n}::${1 + g.int(200)}/64`;
    if (g.chance(0.3)) net.mtu = g.pick([1280, 1500, 9000]);
    if (n === 3 && g.chance(0.5)) net.bridged = false;
    if (g.chance(0.2)) net.custom = obj([['bridge_opts', 'forward_delay=0 multicast_snooping=0']]);
    if (n === 1) net.portIsolation = true;
    networks[name] = net;
  }
  if (g.chance(0.05)) bondings.bond0 = obj([['nics', ['veth_2', 'veth_3']], ['options', 'mode=1 miimon=100']]);
  return { networks, bondings };
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Raw);
const entriesOf = (o: Obj) => Object.entries(o).filter(([, v]) => typeof v === 'object' && v !== null && !(v instanceof Raw) && !Array.isArray(v)) as [string, Obj][];

/** One mutation of the request; returns its name for the failure message. */
function mutate(g: Gen, req: { networks: unknown; bondings: unknown; options: unknown; extra?: [string, unknown] }): string {
  const nets = isObj(req.networks) ? req.networks : obj();
  const bonds = isObj(req.bondings) ? req.bondings : obj();
  // an earlier mutation of this case may have replaced options with a non-object
  const opts = isObj(req.options) ? req.options : obj();
  const someNet = (): [string, Obj] | undefined => {
    const e = entriesOf(nets);
    return e.length ? g.pick(e) : undefined;
  };
  const kind = g.int(16);
  switch (kind) {
    case 0: { // a value of the wrong type (or a weird one) for an attribute
      const e = someNet();
      if (!e) return 'none';
      const attr = g.pick(NET_ATTRS);
      e[1][attr] = weirdValue(g);
      return `net ${e[0]}.${attr} := weird`;
    }
    case 1: { // a network renamed to an Object.prototype member
      const e = someNet();
      if (!e) return 'none';
      delete nets[e[0]];
      const name = g.pick(PROTO_NAMES);
      nets[name] = e[1];
      return `network renamed ${name}`;
    }
    case 2: { // a prototype member as an attribute, option or custom key
      const key = g.pick(PROTO_NAMES);
      const e = someNet();
      const where = g.int(4);
      if (where === 0 && e) e[1][key] = 1;
      else if (where === 1 && e) e[1].custom = obj([[key, 'x']]);
      else if (where === 2) opts[key] = 1;
      else bonds[`bond${g.int(3)}`] = obj([['nics', ['veth_3']], [key, 1]]);
      return `prototype key ${key} at ${where}`;
    }
    case 3: { // prototype members as bridge or bond option names
      const key = g.pick(PROTO_NAMES);
      const e = someNet();
      if (g.chance(0.5) && e) e[1].custom = obj([['bridge_opts', `${key}=1`]]);
      else bonds.bond1 = obj([['nics', ['veth_3']], ['options', `mode=1 ${key}=1`]]);
      return `option named ${key}`;
    }
    case 4: { // unicode and odd names for networks, bonds and nics
      const name = g.pick(UNICODE);
      const e = someNet();
      const where = g.int(3);
      if (where === 0 && e) {
        delete nets[e[0]];
        nets[name] = e[1];
      } else if (where === 1 && e) e[1].nic = name;
      else bonds[name] = obj([['nics', ['veth_3']]]);
      return `odd name ${JSON.stringify(name)} at ${where}`;
    }
    case 5: { // IPv6 zone ids
      const e = someNet();
      if (!e) return 'none';
      const attr = g.pick(['ipv6addr', 'ipv6gateway', 'nameservers']);
      e[1][attr] = attr === 'ipv6addr' ? 'fe80::5%veth_1/64' : attr === 'nameservers' ? ['fe80::1%eth0'] : 'fe80::1%veth_1';
      if (attr === 'nameservers') e[1].defaultRoute = true;
      if (attr === 'ipv6gateway' && e[1].ipv6addr === undefined) e[1].ipv6addr = '2001:db8:9::2/64';
      return `zone id in ${attr}`;
    }
    case 6: { // numbers as strings (valid in VDSM) and strings as numbers
      const e = someNet();
      if (!e) return 'none';
      for (const attr of ['vlan', 'mtu', 'prefix']) if (typeof e[1][attr] === 'number') e[1][attr] = String(e[1][attr]);
      if (g.chance(0.5)) e[1].mtu = g.pick(['9000 ', ' 1500', '0x5dc', '1e3', '-1', '65536', '67']);
      return 'numbers as strings';
    }
    case 7: { // addresses at the edges
      const e = someNet();
      if (!e) return 'none';
      Object.assign(e[1], g.pick([
        { ipaddr: '198.51.100.9', prefix: 0 }, { ipaddr: '198.51.100.9', netmask: '0.0.0.0' },
        { ipaddr: '198.51.100.9', prefix: 33 }, { ipaddr: '198.51.100.9', netmask: '255.0.255.0' },
        { ipaddr: '198.51.100.9', prefix: 24, gateway: '0.0.0.0' }, { ipaddr: '198.51.100.9', prefix: 24, gateway: '239.1.1.1' },
        { ipaddr: '0.0.0.0', prefix: 24 }, { ipaddr: '198.51.100.9' }, { ipaddr: '198.51.100.9', prefix: 24, netmask: '255.255.255.0' },
        { ipv6addr: '2001:db8::1/129' }, { ipv6addr: '2001:db8::1' }, { ipv6addr: 'fe80::1/64' }, { ipv6addr: '::/0' },
        { ipv6addr: '2001:db8::5/64', ipv6gateway: 'ff02::1' }, { ipv6gateway: '2001:db8::1' },
      ]));
      return 'edge address';
    }
    case 8: { // deep nesting of a whole value
      const e = someNet();
      const where = g.int(4);
      if (where === 0 && e) e[1][g.pick(['ipaddr', 'gateway', 'ipv6addr', 'nameservers', 'nic', 'vlan', 'mtu', 'custom'])] = deep(20_000);
      else if (where === 1) req.networks = deep(20_000, '{}');
      else if (where === 2) req.options = deepObj(20_000);
      else bonds.bond2 = obj([['nics', ['veth_3']], ['options', deep(20_000)]]);
      return `deep at ${where}`;
    }
    case 9: { // huge values
      const e = someNet();
      if (!e) return 'none';
      const big = g.pick(['x'.repeat(1_000_000), Array.from({ length: 10_000 }, (_, i) => `192.0.2.${i % 250}`), 'bond' + 'x'.repeat(20)]);
      e[1][g.pick(['nic', 'nameservers', 'custom', 'bonding', 'ipaddr'])] = big;
      return 'huge value';
    }
    case 10: { // remove combined with other attributes, or of networks that do not exist
      const e = someNet();
      if (e && g.chance(0.5)) e[1].remove = g.pick([true, 'true', 1, 'yes']);
      else nets[g.pick(['nosuch', ...PROTO_NAMES])] = obj([['remove', true]]);
      return 'remove';
    }
    case 11: { // topology: missing nics, shared nics, vlans out of range
      const e = someNet();
      if (!e) return 'none';
      Object.assign(e[1], g.pick([{ nic: 'veth_9' }, { vlan: 4095 }, { vlan: -1 }, { vlan: 'ten' }, { bonding: 'bond7' }, { nic: 'veth_1', bonding: 'bond0' }]));
      nets[`fz${4 + g.int(4)}`] = obj([['nic', e[1].nic ?? 'veth_1']]);
      return 'topology';
    }
    case 12: { // bonds of every wrong kind
      bonds[g.pick(['bond0', 'bond1', 'bondX', 'bond'])] = g.pick<Obj>([
        obj([['nics', []]]), obj([['nics', 'veth_1']]), obj([['nics', ['veth_1', 'veth_1']]]), obj([['nics', ['veth_3']], ['options', 'mode=9']]),
        obj([['nics', ['veth_3']], ['options', 'miimon=100 arp_interval=100']]), obj([['nics', ['veth_3']], ['options', 'mode=1 primary=veth_9']]),
        obj([['nics', ['veth_3']], ['hwaddr', 'zz:zz']]), obj([['remove', true]]), obj([['nics', ['veth_3']], ['options', 'mode']]),
      ]);
      return 'bond';
    }
    case 13: { // the top-level shapes
      const which = g.pick(['networks', 'bondings', 'options'] as const);
      req[which] = g.pick([[], 'x', 5, null, obj([['a', 5]]), obj([['a', []]])]);
      return `${which} of the wrong shape`;
    }
    case 14: { // an unknown top-level param
      req.extra = [g.pick(['colour', ...PROTO_NAMES]), 1];
      return 'extra param';
    }
    default: { // connectivity options of wrong types (the check itself stays off: it would wait)
      opts.connectivityTimeout = weirdValue(g);
      if (g.chance(0.3)) opts.commitOnSuccess = weirdValue(g);
      return 'options';
    }
  }
}

// ---- the daemon under test ------------------------------------------------------------

let host: NetnsHost;
let daemon: TestDaemon;

beforeAll(async () => {
  host = await createNetnsHost({ prefix: 'hfz-', nics: 4 });
  daemon = await startTestDaemon({ ns: host.ns, args: ['--log-level', 'info'] });
  const c = await RpcTestClient.connect({ socket: daemon.socket });
  await c.call('Host.setupNetworks', {
    networks: { base: { nic: 'veth_0', ipaddr: '192.0.2.10', prefix: 24, gateway: '192.0.2.1', defaultRoute: true } },
    bondings: {}, options: { connectivityCheck: false },
  });
  await c.close();
});
afterAll(async () => {
  await daemon?.cleanup();
  await host?.destroy();
});

const stateFile = (name: string) => {
  try {
    return readFileSync(path.join(daemon.stateDir, name), 'utf8');
  } catch {
    return null;
  }
};
const hostView = async () => ({ kernel: await comparableState(host.ns), running: stateFile('running.json'), safe: stateFile('safe.json') });

type Reply = { id?: unknown; result?: unknown; error?: { code: number; message: string } };

function withDeadline<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ANSWER_MS / 1000} s (a hang): ${what}`)), ANSWER_MS);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

function expectNoInternalError(r: unknown, what: string): void {
  const replies = Array.isArray(r) ? r : [r];
  for (const reply of replies as Reply[]) {
    expect(reply?.error?.code, `${what}: ${JSON.stringify(reply).slice(0, 300)}`).not.toBe(ErrorCode.INTERNAL);
  }
}

describe(`fuzz (seed ${SEED}, ${CASES} requests, ${FRAME_CASES} mutated frames)`, () => {
  it('mutated setupNetworks requests: never -32603, never a hang, nothing changed after a refusal', async () => {
    const g = new Gen(mulberry32(SEED));
    const client = await RpcTestClient.connect({ socket: daemon.socket });
    const tally = new Map<number | 'ok', number>();
    // a refusal leaves the host as it was: the view after one is the view before the next case
    let before = await hostView();
    try {
      for (let i = 0; i < CASES; i++) {
        const req: { networks: unknown; bondings: unknown; options: unknown; extra?: [string, unknown] } = {
          ...baseRequest(g), options: obj([['connectivityCheck', false]]),
        };
        // some cases go unmutated, so that valid requests (and changes) are mixed in
        const applied = Array.from({ length: g.chance(0.2) ? 0 : 1 + g.int(3) }, () => mutate(g, req));
        const params = obj([['networks', req.networks], ['bondings', req.bondings], ['options', req.options]]);
        if (req.extra) params[req.extra[0]] = req.extra[1];
        const frame = `{"jsonrpc":"2.0","id":"fz${i}","method":"Host.setupNetworks","params":${toJson(params)}}`;
        const what = `case ${i} (seed ${SEED}): ${applied.join('; ')}: ${frame.slice(0, 400)}`;
        const reply = (await withDeadline(client.sendRaw(frame), what)) as Reply;
        expect(reply.id, what).toBe(`fz${i}`);
        expectNoInternalError(reply, what);
        if (process.env.HOSTNETD_FUZZ_DEBUG && reply.error && applied.length === 0) console.log(what.slice(0, 300), reply.error);
        if (reply.error) {
          tally.set(reply.error.code, (tally.get(reply.error.code) ?? 0) + 1);
          const after = await hostView();
          expect(after, `${what}\nrefused with ${reply.error.code} ${reply.error.message} but the host changed`).toEqual(before);
          before = after;
        } else {
          tally.set('ok', (tally.get('ok') ?? 0) + 1);
          expect(reply.result, what).toEqual({ code: 0, message: 'Done' });
          before = await hostView();
        }
      }
    } finally {
      await client.close();
    }
    // the generator must reach both outcomes, or the test proves little
    console.log(`fuzz outcomes: ${JSON.stringify(Object.fromEntries(tally))}`);
    expect(tally.get('ok') ?? 0).toBeGreaterThan(0);
    expect([...tally.keys()].filter((k) => k !== 'ok').length).toBeGreaterThanOrEqual(6);
  }, PHASE_MS);

  it('raw malformed frames: an answer or a clean close, never -32603, nothing changed', async () => {
    const g = new Gen(mulberry32(SEED ^ 0x5eed));
    const valid = '{"jsonrpc":"2.0","id":1,"method":"Host.setupNetworks","params":{"networks":{"fzr":{"nic":"veth_9","vlan":7}},"bondings":{},"options":{"connectivityCheck":false}}}';
    const fixed: (string | Buffer)[] = [
      '', ' ', '{', '}', '[', ']', '[]', '{}', 'null', '1', '"x"', 'true', '{"jsonrpc":"2.0"}', '[1,2,3]',
      '{"jsonrpc":"2.0","id":1,"method":"Host.setupNetworks"}',
      '{"jsonrpc":"2.0","id":1,"method":"Host.setupNetworks","params":[]}',
      '{"jsonrpc":"2.0","id":1,"method":"Host.setupNetworks","params":[{"fzr":{}},{},{"connectivityCheck":false},4]}',
      '{"jsonrpc":"2.0","id":1,"method":"Host.setupNetworks","params":{"networks":{"__proto__":{"nic":"veth_9"}},"bondings":{},"options":{"connectivityCheck":false}}}',
      '{"jsonrpc":"2.0","id":1,"method":"Host.setupNetworks","params":{"__proto__":{"networks":{}}}}',
      '{"jsonrpc":"2.0","id":{"a":1},"method":"Host.ping2"}',
      '{"jsonrpc":"2.0","id":[1],"method":"Host.ping2"}',
      '{"jsonrpc":"2.0","id":1e400,"method":"Host.ping2"}',
      '{"jsonrpc":"2.0","id":1,"method":"toString"}',
      '{"jsonrpc":"2.0","id":1,"method":"__proto__"}',
      '{"jsonrpc":"2.0","id":1,"method":"constructor","params":{}}',
      '{"jsonrpc":"2.0","id":1,"method":"Host.ping2","params":{"toString":1}}',
      '{"jsonrpc":"2.0","id":1,"method":"Host.ping2","params":"x"}',
      '{"jsonrpc":"1.0","id":1,"method":"Host.ping2"}',
      '{"jsonrpc":"2.0","id":1,"method":5}',
      `{"jsonrpc":"2.0","id":1,"method":"Host.setupNetworks","params":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
      `{"jsonrpc":"2.0","id":1,"method":"Host.setupNetworks","params":{"networks":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}}`,
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      `[${Array.from({ length: 1000 }, (_, i) => `{"jsonrpc":"2.0","id":${i},"method":"Host.ping2"}`).join(',')}]`,
      `[${Array.from({ length: 1001 }, (_, i) => `{"jsonrpc":"2.0","id":${i},"method":"Host.ping2"}`).join(',')}]`,
      '[{"jsonrpc":"2.0","id":1,"method":"Host.ping2"},5,"x",null,{}]',
      `[${valid},${valid}]`,
      '{"jsonrpc":"2.0","id":1,"method":"Host.ping2","jsonrpc":"2.0"}',
      '{"jsonrpc":"2.0","id":"\ud800","method":"Host.ping2"}',
      Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
      Buffer.from(valid, 'utf8'),
      valid.slice(0, valid.length / 2),
      valid.replace('"veth_9"', '"veth_9\\u0000"'),
      valid.replace('"vlan":7', '"vlan":7e400'),
      valid.replace('"vlan":7', '"vlan":-0'),
    ];
    const mutated = Array.from({ length: FRAME_CASES }, () => {
      const chars = [...valid];
      for (let k = 1 + g.int(4); k > 0; k--) {
        const at = g.int(chars.length);
        const op = g.int(3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, g.pick(['{', '}', '[', ']', '"', ',', ':', '\\', '0', 'e', '%', ' ', '\u0000', '😀']));
        else chars[at] = g.pick(['{', '}', '"', '1', 'x', '\\']);
      }
      return chars.join('');
    });
    const before = await hostView();
    for (const [i, frame] of [...fixed, ...mutated].entries()) {
      const what = `frame ${i} (seed ${SEED}): ${String(frame).slice(0, 200)}`;
      const client = await RpcTestClient.connect({ socket: daemon.socket });
      try {
        // a probe after the frame: its answer proves the daemon read the frame and is still serving
        client.ws.send(frame);
        const answers: unknown[] = [];
        const outcome = await withDeadline(new Promise<'probe' | 'closed'>((resolve) => {
          client.ws.on('message', (data) => {
            const msg = JSON.parse(String(data)) as Reply;
            if (!Array.isArray(msg) && msg.id === 'probe') resolve('probe');
            else answers.push(msg);
          });
          client.closed.then(() => resolve('closed'), () => resolve('closed'));
          client.ws.send('{"jsonrpc":"2.0","id":"probe","method":"Host.ping2"}');
        }), what);
        for (const a of answers) expectNoInternalError(a, what);
        if (outcome === 'closed') {
          // only a frame the protocol cannot carry may close the connection, with a protocol close code
          const { code } = await client.closed;
          expect([1002, 1003, 1007, 1008, 1009], `${what}: closed with ${code}`).toContain(code);
        }
      } finally {
        await client.close();
      }
    }
    expect(await hostView()).toEqual(before);
  }, PHASE_MS);

  it('afterwards the daemon is alive, answers, and logged no internal error', async () => {
    expect(daemon.proc.exitCode).toBeNull();
    const c = await RpcTestClient.connect({ socket: daemon.socket });
    expect(await c.call('Host.ping2')).toBe(true);
    await c.close();
    const internal = daemon.logs.filter((l) => l.msg === 'internal error' || (l as { code?: unknown }).code === ErrorCode.INTERNAL);
    expect(internal.map((l) => JSON.stringify(l).slice(0, 300))).toEqual([]);
  });
});
