/** Port mirroring's pure core: the tc plan from a bridge's current view, tc's JSON, mirrors.json. */
import { describe, expect, it } from 'vitest';
import { matches, parseQdiscs, parseTargets, planMirror, type BridgeTc } from '../../../src/mirror/tc.js';
import { mirrorsText, parseMirrors } from '../../../src/mirror/store.js';
import { HostnetError } from '../../../src/errors.js';

const clean: BridgeTc = { ingressQdisc: false, root: 'none', ingressTargets: [], egressTargets: [], promisc: false };
const mirroring = (taps: string[]): BridgeTc => ({ ingressQdisc: true, root: 'ours', ingressTargets: taps, egressTargets: taps, promisc: true });
const filter = (parent: string, taps: string) =>
  `filter replace dev br0 parent ${parent} protocol all pref 49 handle 800::800 u32 match u8 0 0 ${taps}`;

describe('planMirror', () => {
  it('first tap: ingress and root qdiscs, one filter under each, promiscuous bridge', () => {
    expect(planMirror('br0', clean, ['vnet1'])).toEqual({
      tc: [
        'qdisc add dev br0 ingress',
        'qdisc add dev br0 root handle 1: htb direct_qlen 1000',
        filter('ffff:', 'action mirred egress mirror dev vnet1'),
        filter('1:', 'action mirred egress mirror dev vnet1'),
      ],
      promisc: true,
    });
  });

  it('a second tap replaces both filters with one action per tap, sorted', () => {
    expect(planMirror('br0', mirroring(['vnet1']), ['vnet2', 'vnet1'])).toEqual({
      tc: [
        filter('ffff:', 'action mirred egress mirror dev vnet1 action mirred egress mirror dev vnet2'),
        filter('1:', 'action mirred egress mirror dev vnet1 action mirred egress mirror dev vnet2'),
      ],
    });
  });

  it('the last tap gone: both qdiscs deleted, promiscuous mode off', () => {
    expect(planMirror('br0', mirroring(['vnet1']), [])).toEqual({
      tc: ['qdisc del dev br0 ingress', 'qdisc del dev br0 root'], promisc: false,
    });
  });

  it('a deleted tap (tc shows *) is a difference', () => {
    expect(matches(mirroring(['*', 'vnet1']), ['vnet1'])).toBe(false);
    expect(matches(mirroring(['vnet1']), ['vnet1'])).toBe(true);
    expect(matches(clean, [])).toBe(true);
    expect(matches({ ...clean, promisc: true }, [])).toBe(false);
  });

  it('a root qdisc hostnetd did not make is refused (21), not replaced', () => {
    expect(() => planMirror('br0', { ...clean, root: 'other' }, ['vnet1'])).toThrow(HostnetError);
    expect(matches({ ...clean, root: 'other' }, ['vnet1'])).toBe(false);
  });
});

describe('tc JSON (iproute2 6.1)', () => {
  it('qdiscs: ingress and our htb, noqueue as none, anything else as other', () => {
    expect(parseQdiscs('[{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{}}]')).toEqual({ ingressQdisc: false, root: 'none' });
    expect(parseQdiscs('[{"kind":"htb","handle":"1:","root":true,"refcnt":2,"options":{"r2q":10,"default":"0","direct_packets_stat":0,"direct_qlen":1000}},{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1","options":{}}]'))
      .toEqual({ ingressQdisc: true, root: 'ours' });
    expect(parseQdiscs('[{"kind":"tbf","handle":"8001:","root":true}]')).toEqual({ ingressQdisc: false, root: 'other' });
  });

  it("filters: our filter's mirred targets, * for a deleted device", () => {
    const json = '[{"protocol":"all","pref":49,"kind":"u32","chain":0},{"protocol":"all","pref":49,"kind":"u32","chain":0,"options":{"fh":"800:","ht_divisor":1}},' +
      '{"protocol":"all","pref":49,"kind":"u32","chain":0,"options":{"fh":"800::800","order":2048,"key_ht":"800","bkt":"0","not_in_hw":true,"match":{"value":"0","mask":"0","offmask":"","off":0},' +
      '"actions":[{"order":1,"kind":"mirred","mirred_action":"mirror","direction":"egress","to_dev":"vnet1","control_action":{"type":"pipe"},"index":1,"ref":1,"bind":1},' +
      '{"order":2,"kind":"mirred","mirred_action":"mirror","direction":"egress","to_dev":"*","control_action":{"type":"pipe"},"index":2,"ref":1,"bind":1}]}}]';
    expect(parseTargets(json)).toEqual(['vnet1', '*']);
    expect(parseTargets('[]')).toEqual([]);
  });
});

describe('mirrors.json', () => {
  it('round-trips, sorted', () => {
    const t = parseMirrors(mirrorsText(new Map([['net2', ['b']], ['net1', ['vnet2', 'vnet1']]])), 'f');
    expect([...t]).toEqual([['net1', ['vnet1', 'vnet2']], ['net2', ['b']]]);
  });

  it.each([
    ['not JSON', '{', /f: not JSON/],
    ['another version', '{"version":2,"mirrors":{}}', /version must be 1/],
    ['an extra key', '{"version":1,"mirrors":{},"x":1}', /exactly the keys/],
    ['a bad network name', '{"version":1,"mirrors":{"a b":["t"]}}', /network name 'a b'/],
    ['a bad tap', '{"version":1,"mirrors":{"net":["t;x"]}}', /mirrors.net must be a non-empty list/],
    ['an empty list', '{"version":1,"mirrors":{"net":[]}}', /mirrors.net must be a non-empty list/],
  ])('refuses %s, naming the file', (_what, text, re) => {
    expect(() => parseMirrors(text, 'f')).toThrow(re);
  });

  it('a network named __proto__ is plain data', () => {
    const t = parseMirrors('{"version":1,"mirrors":{"__proto__":["t"]}}', 'f');
    expect(t.get('__proto__')).toEqual(['t']);
  });
});
