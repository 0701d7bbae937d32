// hostQos on a real HFSC kernel (inside the VM tier): VDSM's net_qos_test.py scenarios through
// the real daemon, the kernel's tc checked against `tc` itself (its text: `tc -j` prints an
// hfsc class, and the hfsc qdisc's options, as text that is not JSON in iproute2 6.1), curves
// edited and removed, networks removed (our qdisc gone), and failures rolled back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import type { FaultRule } from '../../../src/faults.js';
import { readKernelState } from '../../../src/kernel/snapshot.js';
import { readTc } from '../../../src/kernel/tc-read.js';
import type { DeviceTc } from '../../../src/model/kernel-state.js';
import { CLI_MAIN, faultRules, type FaultRules } from '../../helpers/daemon.js';
import { RpcCallError } from '../../helpers/rpc-client.js';
import { noCheck, startVmHost, type Dict, type VmHost } from './vmhost.js';

let host: VmHost;
let dir: string;
let faults: FaultRules;

// net_qos_test.py's values: rate(mbps) = mbps * 1000**2, _100USEC = 100 * 1000
const rate = (mbps: number) => mbps * 1000 ** 2;
const QOS_FULL = { out: { ls: { m1: rate(4), d: 100_000, m2: rate(3) }, ul: { m2: rate(8) } } };
const QOS_1 = { out: { ls: { m2: rate(1) } } };
const QOS_5 = { out: { ls: { m2: rate(5) } } };

/** VDSM's _normalize_qos_config: m1 and d of 0 are dropped before comparing */
function normalize(qos: Dict): Dict {
  const out: Dict = {};
  for (const [part, curves] of Object.entries(qos)) {
    out[part] = {};
    for (const [name, c] of Object.entries(curves as Dict)) {
      out[part][name] = Object.fromEntries(Object.entries(c as Dict).filter(([k, v]) => !((k === 'm1' || k === 'd') && v === 0)));
    }
  }
  return out;
}

/** VDSM's assertHostQos: on the network, and in the nic's or bond's qos list with its vlan */
function assertHostQos(caps: Dict, net: string, attrs: Dict): void {
  expect(normalize(caps.networks[net].hostQos), `${net}.hostQos`).toEqual(attrs.hostQos);
  const dev = attrs.nic ? caps.nics[attrs.nic] : caps.bondings[attrs.bonding];
  const list = (dev.qos as Dict[]).map((q) => ({ hostQos: normalize(q.hostQos), vlan: q.vlan }));
  expect(list).toContainEqual({ hostQos: attrs.hostQos, vlan: attrs.vlan ?? -1 });
}

async function tcOf(dev: string): Promise<DeviceTc> {
  const state = await readKernelState({}, 'config');
  return readTc({}, state, [dev])[dev]!;
}

async function tcText(...args: string[]): Promise<string> {
  return (await execa('tc', args)).stdout;
}

/** iproute2's rate text ("24Mbit", "3200Kbit", "0bit"; SI units) → bits per second (VDSM's _parser.parse_rate) */
function parseRate(t: string): number {
  const m = /^([\d.]+)(G|M|K)?bit$/.exec(t);
  if (!m) throw new Error(`not a tc rate: ${t}`);
  return Math.round(Number(m[1]) * ({ G: 1e9, M: 1e6, K: 1e3 }[m[2] as 'G' | 'M' | 'K'] ?? 1));
}
/** "100ms", "1.23ms", "0us", "2s" → microseconds (VDSM's parse_time) */
function parseTime(t: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(t);
  if (!m) throw new Error(`not a tc time: ${t}`);
  return Math.round(Number(m[1]) * { us: 1, ms: 1e3, s: 1e6 }[m[2] as 'us' | 'ms' | 's']);
}

/**
 * The parser check: every hfsc class `tc class show` prints must be one our netlink reader
 * returned, with the same curves (tc prints bits; the reader keeps the kernel's bytes).
 */
async function expectReaderAgreesWithTc(dev: string): Promise<void> {
  const tc = await tcOf(dev);
  const text = await tcText('class', 'show', 'dev', dev);
  const printed = text.split('\n').filter((l) => l.startsWith('class hfsc') && !l.includes(' root'));
  expect(printed.length, text).toBe(tc.classes.filter((c) => c.kind === 'hfsc').length);
  for (const line of printed) {
    const handle = line.split(' ')[2]!;
    const cls = tc.classes.find((c) => c.handle === handle);
    expect(cls, `${handle} read over netlink`).toBeDefined();
    for (const name of ['rt', 'ls', 'ul'] as const) {
      const m = new RegExp(` ${name} m1 (\\S+) d (\\S+) m2 (\\S+)`).exec(line);
      if (!m) {
        expect(cls![name], `${handle} ${name}`).toBeUndefined();
        continue;
      }
      expect(parseRate(m[1]!), `${handle} ${name}.m1`).toBe(cls![name]!.m1 * 8);
      expect(parseTime(m[2]!), `${handle} ${name}.d`).toBe(cls![name]!.d);
      expect(parseRate(m[3]!), `${handle} ${name}.m2`).toBe(cls![name]!.m2 * 8);
    }
  }
  const q = await tcText('qdisc', 'show', 'dev', dev);
  if (tc.root?.kind === 'hfsc') expect(q).toContain(`qdisc hfsc ${tc.root.handle} root refcnt`);
  for (const leaf of tc.qdiscs.filter((x) => x.kind === 'fq_codel')) expect(q).toContain(`qdisc fq_codel ${leaf.handle} parent ${leaf.parent} `);
  const f = await tcText('filter', 'show', 'dev', dev);
  for (const filter of tc.filters) {
    expect(f).toContain(`pref ${filter.prio} ${filter.kind} chain 0`);
    if (filter.classid) expect(f).toMatch(new RegExp(`pref ${filter.prio} ${filter.kind} .*flowid ${filter.classid}`));
  }
}

/** The VDSM layout on `dev`: root, classes (minor → api curves), leaves, filters. */
async function expectLayout(dev: string, classes: Record<string, Dict>, vlans: number[]): Promise<void> {
  const tc = await tcOf(dev);
  expect(tc.root).toEqual({ kind: 'hfsc', handle: '1389:', hfscDefault: 0x1388 });
  const got = Object.fromEntries(tc.classes.filter((c) => c.kind === 'hfsc').map((c) => [c.handle, Object.fromEntries((['rt', 'ls', 'ul'] as const).filter((k) => c[k]).map((k) => [k, c[k]]))]));
  expect(got).toEqual(Object.fromEntries(Object.entries(classes).map(([m, c]) => [`1389:${m}`, c])));
  expect(tc.qdiscs.filter((q) => q.kind === 'fq_codel').map((q) => q.parent).sort()).toEqual(Object.keys(classes).map((m) => `1389:${m}`).sort());
  expect(tc.filters.map((x) => [x.prio, x.kind, x.classid]).sort()).toEqual(
    [[5000, 'u32', '1389:1388'], ...vlans.map((v) => [v, 'basic', `1389:${v.toString(16)}`])].sort(),
  );
  await expectReaderAgreesWithTc(dev);
}

async function expectNoQos(dev: string): Promise<void> {
  const tc = await tcOf(dev);
  expect(tc.root?.kind).not.toBe('hfsc');
  expect(tc.classes).toEqual([]);
  expect(await tcText('qdisc', 'show', 'dev', dev)).not.toContain('hfsc');
}

const bytes = (bits: number) => bits / 8;
const FULL_CLASS = { ls: { m1: rate(4), d: 100_000, m2: rate(3) }, ul: { m1: 0, d: 0, m2: bytes(rate(8)) } };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hostnetd-vmqos-'));
  faults = faultRules(dir);
    // a loaded machine under TCG: the daemon's start alone took over a minute once
  host = await startVmHost({ dir, env: faults.env, readyTimeoutMs: 240_000 });
}, 5 * 60_000);
afterAll(async () => {
  faults.set([]);
  await host?.clear();
  await host?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 5 * 60_000);

describe("hostQos, VDSM's net_qos_test scenarios on HFSC", () => {
  it('capabilities say this kernel has HFSC and fq_codel', async () => {
    expect((await host.caps()).hostnet.kernel).toMatchObject({ hfsc: true, fqCodel: true });
  });

  for (const bridged of [true, false]) {
    it(`test_add_non_vlan_network_with_qos (nic, bridged=${bridged}): class 1389:1388 with the curves; removing the network removes the qdisc`, async () => {
      const attrs = { nic: 'eth1', bridged, hostQos: QOS_FULL };
      const caps = await host.setup({ n1: attrs });
      assertHostQos(caps, 'n1', attrs);
      await expectLayout('eth1', { 1388: FULL_CLASS }, []);
      const after = await host.setup({ n1: { remove: true } });
      expect(after.nics.eth1.qos).toBeUndefined();
      await expectNoQos('eth1');
    });

    it(`test_add_vlan_network_with_qos (bond, bridged=${bridged}): class 1389:a and a default class; the bond's qos list`, async () => {
      const attrs = { bonding: 'bond1', vlan: 10, bridged, hostQos: QOS_FULL };
      const caps = await host.setup({ n1: attrs }, { bond1: { nics: ['eth2'], options: 'mode=active-backup miimon=100' } });
      assertHostQos(caps, 'n1', attrs);
      expect(caps.bondings.bond1.qos).toHaveLength(1);
      // untagged traffic shares the link like the largest ls of the device
      await expectLayout('bond1', { a: FULL_CLASS, 1388: { ls: { m1: 0, d: 0, m2: rate(3) } } }, [10]);
      await expectNoQos('eth2');
      await host.setup({ n1: { remove: true } }, { bond1: { remove: true } });
      expect((await host.caps()).bondings.bond1).toBeUndefined();
    });
  }

  it('test_add_vlan_network_with_qos (nic): the NIC carries the classes, not the vlan device', async () => {
    const attrs = { nic: 'eth1', vlan: 10, hostQos: QOS_FULL };
    assertHostQos(await host.setup({ n1: attrs }), 'n1', attrs);
    await expectLayout('eth1', { a: FULL_CLASS, 1388: { ls: { m1: 0, d: 0, m2: rate(3) } } }, [10]);
    await expectNoQos('eth1.10');
    const after = await host.setup({ n1: { remove: true } });
    // VDSM's assertNoQosOnNic after the network is gone
    expect(after.nics.eth1.qos).toBeUndefined();
    await expectNoQos('eth1');
  });

  it('test_add_two_networks_with_qos_on_shared_nic: untagged and vlan 10 in one request', async () => {
    const nets = { n1: { nic: 'eth3', hostQos: QOS_1 }, n2: { nic: 'eth3', vlan: 10, hostQos: QOS_5 } };
    const caps = await host.setup(nets);
    assertHostQos(caps, 'n1', nets.n1);
    assertHostQos(caps, 'n2', nets.n2);
    expect(caps.nics.eth3.qos.map((q: Dict) => q.vlan)).toEqual([-1, 10]);
    await expectLayout('eth3', { 1388: { ls: { m1: 0, d: 0, m2: rate(1) } }, a: { ls: { m1: 0, d: 0, m2: rate(5) } } }, [10]);
    await host.setup({ n1: { remove: true }, n2: { remove: true } });
    await expectNoQos('eth3');
  });

  it('test_add_two_networks_with_qos_on_shared_nic_in_two_steps', async () => {
    await host.setup({ n1: { nic: 'eth3', hostQos: QOS_1 } });
    const caps = await host.setup({ n2: { nic: 'eth3', vlan: 10, hostQos: QOS_5 } });
    assertHostQos(caps, 'n1', { nic: 'eth3', hostQos: QOS_1 });
    assertHostQos(caps, 'n2', { nic: 'eth3', vlan: 10, hostQos: QOS_5 });
    await expectLayout('eth3', { 1388: { ls: { m1: 0, d: 0, m2: rate(1) } }, a: { ls: { m1: 0, d: 0, m2: rate(5) } } }, [10]);
    await host.setup({ n1: { remove: true }, n2: { remove: true } });
    await expectNoQos('eth3');
  });

  it('two VLAN networks over one NIC: one class and one filter each; removing one keeps the other', async () => {
    const nets = { v10: { nic: 'eth4', vlan: 10, hostQos: QOS_1 }, v20: { nic: 'eth4', vlan: 20, hostQos: { out: { ls: { m2: rate(5) }, rt: { m2: rate(2) }, ul: { m2: rate(9) } } } } };
    const caps = await host.setup(nets);
    assertHostQos(caps, 'v10', nets.v10);
    assertHostQos(caps, 'v20', nets.v20);
    await expectLayout('eth4', {
      a: { ls: { m1: 0, d: 0, m2: rate(1) } },
      14: { ls: { m1: 0, d: 0, m2: rate(5) }, rt: { m1: 0, d: 0, m2: bytes(rate(2)) }, ul: { m1: 0, d: 0, m2: bytes(rate(9)) } },
      1388: { ls: { m1: 0, d: 0, m2: rate(5) } },
    }, [10, 20]);
    assertHostQos(await host.setup({ v20: { remove: true } }), 'v10', nets.v10);
    await expectLayout('eth4', { a: { ls: { m1: 0, d: 0, m2: rate(1) } }, 1388: { ls: { m1: 0, d: 0, m2: rate(1) } } }, [10]);
    await host.setup({ v10: { remove: true } });
    await expectNoQos('eth4');
  });

  it('test_add_edit_and_remove_qos_from_nic: curves edited, then QoS dropped while the network stays', async () => {
    assertHostQos(await host.setup({ n1: { nic: 'eth1', hostQos: QOS_1 } }), 'n1', { nic: 'eth1', hostQos: QOS_1 });
    assertHostQos(await host.setup({ n1: { nic: 'eth1', hostQos: QOS_FULL } }), 'n1', { nic: 'eth1', hostQos: QOS_FULL });
    await expectLayout('eth1', { 1388: FULL_CLASS }, []);
    // the same request again: nothing to do, no tc line
    const mark = host.daemon.logs.length;
    await host.setup({ n1: { nic: 'eth1', hostQos: QOS_FULL } });
    expect(host.daemon.logs.slice(mark).filter((l) => l.event === 'plan').map((l) => [l.ops, l.changedConfig, l.qosLines])).toEqual([[0, false, 0]]);
    const caps = await host.setup({ n1: { nic: 'eth1' } });
    expect(caps.networks.n1.hostQos).toBeUndefined();
    expect(caps.nics.eth1.qos).toBeUndefined();
    await expectNoQos('eth1');
    await host.setup({ n1: { remove: true } });
  });

  it('hostnetctl --qos-out-ls/--qos-out-ul set the curves end to end', async () => {
    const r = await execa(process.execPath, [CLI_MAIN, '--socket', host.daemon.socket, 'setup', '--net', 'cli', '--nic', 'eth1',
      '--qos-out-ls', 'm1=4000000,d=100000,m2=3000000', '--qos-out-ul', '8', '--no-check'], { reject: false });
    expect(r.exitCode, `${r.stdout}${r.stderr}`).toBe(0);
    assertHostQos(await host.caps(), 'cli', { nic: 'eth1', hostQos: QOS_FULL });
    await host.setup({ cli: { remove: true } });
    await expectNoQos('eth1');
  });
});

describe('hostQos failures roll back', () => {
  async function failed(rule: FaultRule, networks: Dict, code: number): Promise<void> {
    faults.set([rule]);
    try {
      const err = await host.client.call('Host.setupNetworks', { networks, bondings: {}, options: noCheck }).then(
        () => { throw new Error('expected the injected fault to fail the change'); },
        (e: unknown) => e as RpcCallError,
      );
      expect(err).toBeInstanceOf(RpcCallError);
      expect(err.code, err.message).toBe(code);
    } finally {
      faults.set([]);
    }
  }

  it('a tc line refused while adding QoS: 100 quoting the line, no hfsc left, the config unchanged', async () => {
    await host.setup({ n1: { nic: 'eth1' } });
    const running = host.running();
    await failed({ point: 'tc-batch', n: 1, line: 3 }, { n1: { nic: 'eth1', hostQos: QOS_FULL } }, ErrorCode.APPLY_FAILED);
    await expectNoQos('eth1');
    expect(host.running()).toEqual(running);
  });

  it('a failure after the tc step (writing running.json) while editing curves puts the old curves back', async () => {
    await host.setup({ n1: { nic: 'eth1', vlan: 10, hostQos: QOS_1 } });
    const running = host.running();
    await failed({ point: 'rename:running.json', n: 1 }, { n1: { nic: 'eth1', vlan: 10, hostQos: QOS_FULL } }, ErrorCode.STORE_FAILED);
    await expectLayout('eth1', { a: { ls: { m1: 0, d: 0, m2: rate(1) } }, 1388: { ls: { m1: 0, d: 0, m2: rate(1) } } }, [10]);
    expect(host.running()).toEqual(running);
  });

  it('a failure after removing a QoS network puts its vlan device and its classes back', async () => {
    await failed({ point: 'rename:running.json', n: 1 }, { n1: { remove: true } }, ErrorCode.STORE_FAILED);
    await expectLayout('eth1', { a: { ls: { m1: 0, d: 0, m2: rate(1) } }, 1388: { ls: { m1: 0, d: 0, m2: rate(1) } } }, [10]);
    assertHostQos(await host.caps(), 'n1', { nic: 'eth1', vlan: 10, hostQos: QOS_1 });
    await host.setup({ n1: { remove: true } });
    await expectNoQos('eth1');
  });
});

describe('hostQos across kill -9', () => {
  it('killed after the tc step of a curve edit: the next start rolls the classes back from the journal', async () => {
    await host.setup({ n1: { nic: 'eth1', vlan: 10, hostQos: QOS_1 } });
    const running = host.running();
    const oldLayout = { a: { ls: { m1: 0, d: 0, m2: rate(1) } }, 1388: { ls: { m1: 0, d: 0, m2: rate(1) } } };
    faults.set([{ point: 'rename:running.json', n: 1, action: 'kill' }]);
    const mark = host.daemon.logs.length;
    // the connection drops with the daemon
    await host.client.call('Host.setupNetworks', { networks: { n1: { nic: 'eth1', vlan: 10, hostQos: QOS_FULL } }, bondings: {}, options: noCheck }).catch(() => undefined);
    expect((await host.daemon.exited).signal).toBe('SIGKILL');
    expect(host.daemon.logs.slice(mark).some((l) => l.event === 'fault-point' && l.point === 'tc-batch')).toBe(true);
    // the new curves are in the kernel: the kill came after the tc step
    await expectLayout('eth1', { a: FULL_CLASS, 1388: { ls: { m1: 0, d: 0, m2: rate(3) } } }, [10]);
    faults.set([]);
    await host.client.close().catch(() => undefined);
    host = await startVmHost({ dir, env: faults.env, readyTimeoutMs: 240_000 });
    expect(host.daemon.logs.some((l) => l.event === 'recovered')).toBe(true);
    await expectLayout('eth1', oldLayout, [10]);
    expect(host.running()).toEqual(running);
    assertHostQos(await host.caps(), 'n1', { nic: 'eth1', vlan: 10, hostQos: QOS_1 });
    await host.setup({ n1: { remove: true } });
    await expectNoQos('eth1');
  }, 10 * 60_000);
});
