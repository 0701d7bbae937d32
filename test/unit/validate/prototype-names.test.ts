/**
 * Names that are Object.prototype members are valid interface names (VDSM accepts them): every
 * table keyed by user data must treat them like any other name. Each stage of a change is run
 * on them here: validation, merge, topology, plan, batch, running config file, journal,
 * rollback target and capabilities.
 */
import { describe, expect, it } from 'vitest';
import { buildNetworkCapabilities } from '../../../src/caps/network.js';
import { buildStatistics } from '../../../src/caps/statistics.js';
import { ErrorCode, HostnetError } from '../../../src/errors.js';
import { renderBatch } from '../../../src/kernel/batch.js';
import { parseLinks } from '../../../src/kernel/parse.js';
import type { KernelLink, KernelState } from '../../../src/model/kernel-state.js';
import { dict } from '../../../src/model/dict.js';
import { mergeRequest } from '../../../src/model/merge.js';
import { cloneConfig, emptyConfig, type HostConfig } from '../../../src/model/types.js';
import { desiredKernel } from '../../../src/plan/desired.js';
import { diff } from '../../../src/plan/diff.js';
import { rollbackTarget, sliceState } from '../../../src/plan/rollback.js';
import { parseConfig, serializeConfig } from '../../../src/store/config-store.js';
import { JournalBeginSchema } from '../../../src/store/schema.js';
import { canonicalizeRequest } from '../../../src/validate/request.js';
import { validateTopology } from '../../../src/validate/topology.js';
import { features } from '../../helpers/kernel-fixtures.js';

export const PROTOTYPE_NAMES = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'] as const;

function link(name: string, extra: Partial<KernelLink> = {}): KernelLink {
  return { ifindex: 1, name, kind: 'device', mtu: 1500, address: '02:00:00:00:00:01', up: true, operstate: 'UP', promiscuity: 0, ...extra };
}
const state = (links: KernelLink[]): KernelState => ({
  links: dict(links.map((l) => [l.name, l])), addresses: [], routes: [], fdb: [], takenAt: 0,
});

/** A request as the wire delivers it: JSON.parse keeps "__proto__" as an own key. */
const wire = (text: string) => JSON.parse(text) as { networks: Record<string, Record<string, unknown>>; bondings: Record<string, Record<string, unknown>>; options: Record<string, unknown> };

function codeOf(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof HostnetError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected an error');
}

const nics = state(PROTOTYPE_NAMES.map((_, i) => link(`veth_${i}`)));
const facts = { nics: new Set(PROTOTYPE_NAMES.map((_, i) => `veth_${i}`)), bonds: new Set<string>() };

function setupAll(running: HostConfig = emptyConfig()): HostConfig {
  const nets = PROTOTYPE_NAMES.map((n, i) => `"${n}": {"nic": "veth_${i}", "portIsolation": ${i % 2 === 0}, "ipaddr": "192.0.2.${i + 10}", "prefix": 24}`);
  const req = canonicalizeRequest(wire(`{"networks": {${nets.join(', ')}}, "bondings": {}, "options": {}}`));
  const desired = mergeRequest(running, req, new Set());
  validateTopology(desired, running, req, facts);
  return desired;
}

describe('networks named like Object.prototype members', () => {
  it('are validated, merged and checked like any other name', () => {
    const desired = setupAll();
    expect(Object.keys(desired.networks).sort()).toEqual([...PROTOTYPE_NAMES].sort());
    for (const [i, name] of PROTOTYPE_NAMES.entries()) {
      expect(Object.hasOwn(desired.networks, name)).toBe(true);
      expect(desired.networks[name]).toMatchObject({ name, nic: `veth_${i}`, portIsolation: i % 2 === 0 });
    }
  });

  it('an edit of one keeps the portIsolation rule (21 when it changes), not a prototype member', () => {
    const running = setupAll();
    const req = canonicalizeRequest(wire('{"networks": {"toString": {"nic": "veth_0", "portIsolation": false}}, "bondings": {}, "options": {}}'));
    const err = codeOf(() => validateTopology(mergeRequest(running, req, new Set()), running, req, facts));
    expect(err.code).toBe(ErrorCode.BAD_PARAMS);
    expect(err.message).toBe("network 'toString': 'portIsolation' is fixed at creation (is true); remove the network and add it again to change it");
  });

  it.each(PROTOTYPE_NAMES)('removing %s when it does not exist is 27, and when it exists removes it', (name) => {
    const req = canonicalizeRequest(wire(`{"networks": {"${name}": {"remove": true}}, "bondings": {}, "options": {}}`));
    expect(codeOf(() => mergeRequest(emptyConfig(), req, new Set())).code).toBe(ErrorCode.BAD_BRIDGE);
    const after = mergeRequest(setupAll(), req, new Set());
    expect(Object.hasOwn(after.networks, name)).toBe(false);
    expect(Object.keys(after.networks)).toHaveLength(PROTOTYPE_NAMES.length - 1);
  });

  it('are planned as bridges and rendered into the batch', () => {
    const desired = setupAll();
    const text = renderBatch(diff(desiredKernel(desired, emptyConfig(), (d) => Object.hasOwn(nics.links, d)), nics)).text;
    for (const name of PROTOTYPE_NAMES) expect(text).toContain(`link add name ${name} mtu 1499 type bridge stp_state 0\n`);
  });

  it('a kernel link named like one is found, and an absent one is not taken for a prototype member', () => {
    const links = parseLinks([{ ifname: '__proto__', ifindex: 3, mtu: 1500, address: '02:00:00:00:00:03', flags: ['UP'], operstate: 'UP' }]);
    expect(Object.keys(links)).toEqual(['__proto__']);
    const desired = setupAll();
    // on a plain object, links.constructor would be Object itself: a bridge that "exists"
    const ops = diff(desiredKernel(desired, emptyConfig(), (d) => Object.hasOwn(nics.links, d)), nics);
    expect(ops.filter((o) => o.op === 'add-bridge' && o.dev === 'constructor')).toHaveLength(1);
  });

  it('survive the running config file and a clone', () => {
    const desired = setupAll();
    const back = parseConfig(serializeConfig(desired), '/x/running.json');
    expect(Object.keys(back.networks).sort()).toEqual([...PROTOTYPE_NAMES].sort());
    expect(Object.getPrototypeOf(back.networks)).toBe(null);
    expect(back.networks.__proto__).toMatchObject({ name: '__proto__', nic: 'veth_2' });
    const clone = cloneConfig(back);
    expect(Object.keys(clone.networks).sort()).toEqual([...PROTOTYPE_NAMES].sort());
    expect('toString' in emptyConfig().networks).toBe(false);
  });

  it('survive the journal and give a rollback target for each', () => {
    const before = state([...Object.values(nics.links), link('__proto__', { kind: 'bridge', bridge: { stp: false, vlanFiltering: false, opts: {} } })]);
    const entry = {
      type: 'begin', version: 1, id: 'x', startedAt: 'now', phase: 'applying',
      before: { config: emptyConfig(), kernel: sliceState(before, ['__proto__', 'constructor']) }, desired: setupAll(), touched: ['__proto__', 'constructor'],
    };
    const parsed = JournalBeginSchema.parse(JSON.parse(JSON.stringify(entry)));
    expect(Object.keys(parsed.before.kernel.links)).toEqual(['__proto__']);
    expect(Object.keys(parsed.desired.networks).sort()).toEqual([...PROTOTYPE_NAMES].sort());
    const now = state([link('__proto__', { kind: 'bridge' }), link('constructor', { kind: 'bridge' })]);
    const target = rollbackTarget(parsed.before.kernel, now, parsed.touched);
    expect(Object.keys(target.links)).toEqual(['__proto__']);
    expect(target.remove).toEqual(['constructor']);
  });

  it('are reported in capabilities', () => {
    const desired = setupAll();
    const kernel = state([
      ...Object.values(nics.links),
      ...PROTOTYPE_NAMES.map((n) => link(n, { kind: 'bridge', bridge: { stp: false, vlanFiltering: false, opts: {} } })),
    ]);
    const caps = buildNetworkCapabilities({
      state: kernel, running: desired, netConfigDirty: false, features: features(),
      fakeNics: ['veth_*'], nameservers: [], version: 'x', libvirt: { uri: 'none', connected: false, networks: {} },
    });
    const reported = JSON.parse(JSON.stringify(caps)) as { networks: Record<string, unknown>; bridges: Record<string, unknown> };
    expect(Object.keys(reported.networks).sort()).toEqual([...PROTOTYPE_NAMES].sort());
    expect(Object.keys(reported.bridges).sort()).toEqual([...PROTOTYPE_NAMES].sort());
    const stats = JSON.parse(JSON.stringify(buildStatistics(kernel, ['veth_*'], 0))) as { network: Record<string, { name: string }> };
    expect(Object.keys(stats.network).filter((k) => (PROTOTYPE_NAMES as readonly string[]).includes(k)).sort()).toEqual([...PROTOTYPE_NAMES].sort());
  });
});

describe('option names that are Object.prototype members', () => {
  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty'])('bridge option %s=1 is an unknown bridge option (21)', (key) => {
    const req = wire(`{"networks": {"n": {"custom": {"bridge_opts": "${key}=1"}}}, "bondings": {}, "options": {}}`);
    const err = codeOf(() => canonicalizeRequest(req));
    expect(err).toEqual({ code: ErrorCode.BAD_PARAMS, message: `network 'n': custom.bridge_opts: unknown bridge option '${key}'` });
  });

  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty'])('bond option %s=1 is an unknown bond option (25)', (key) => {
    const req = wire(`{"networks": {}, "bondings": {"bond0": {"nics": ["veth_0"], "options": "mode=1 ${key}=1"}}, "options": {}}`);
    const err = codeOf(() => canonicalizeRequest(req));
    expect(err).toEqual({ code: ErrorCode.BAD_BONDING, message: `bond 'bond0': unknown bond option '${key}'` });
  });

  it('a bond named like a prototype member is a bad bond name (25)', () => {
    for (const name of PROTOTYPE_NAMES) {
      const err = codeOf(() => canonicalizeRequest(wire(`{"networks": {}, "bondings": {"${name}": {"nics": ["veth_0"]}}, "options": {}}`)));
      expect(err.code).toBe(ErrorCode.BAD_BONDING);
    }
  });

  it('options keys that are prototype members are unknown options (21)', () => {
    const err = codeOf(() => canonicalizeRequest(wire('{"networks": {}, "bondings": {}, "options": {"toString": 1}}')));
    expect(err).toEqual({ code: ErrorCode.BAD_PARAMS, message: "options: unknown option 'toString'" });
  });
});
