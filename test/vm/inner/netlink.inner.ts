// The rtnetlink reader against iproute2's JSON on the VM's kernel, for what the host's kernel
// cannot make: bonds (active-backup with a primary, 802.3ad), VLANs (802.1Q, 802.1ad, on a
// bond), a bridge with vlan_filtering. In a namespace of its own, IPv6 DAD off (it would change
// addresses between the two reads compared); then the long-lived view after changes.
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKernelState } from '../../../src/kernel/snapshot.js';
import { KernelView } from '../../../src/kernel/view.js';
import { comparable, noDad, operstatesSettled, viaIproute, viewScope } from '../../helpers/kernel-compare.js';

const ns = 'hnvm-nl';
const batch = (lines: string[]) => execFileSync('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });

beforeAll(() => {
  execFileSync('ip', ['netns', 'add', ns]);
  noDad(ns);
});
afterAll(() => {
  execFileSync('ip', ['netns', 'del', ns]);
});

describe('rtnetlink reader vs iproute2 JSON (bonds, VLANs, vlan_filtering)', () => {
  it('parses them as the iproute2 parser does', async () => {
    batch([
      ...[0, 1, 2, 3].map((i) => `link add e${i} type veth peer name e${i}p`),
      'link add bondab type bond mode active-backup miimon 150',
      'link set e0 master bondab', 'link set e1 master bondab',
      'link set bondab type bond primary e1',
      'link add bondad type bond mode 802.3ad miimon 100 lacp_rate fast xmit_hash_policy layer2+3',
      'link set e2 master bondad', 'link set e3 master bondad',
      'link set bondab up', 'link set bondad up',
      'link add link bondab name bondab.100 type vlan id 100',
      'link add link bondad name bondad.200 type vlan protocol 802.1ad id 200',
      'link add brvf type bridge vlan_filtering 1 stp_state 0',
      'link add v0 type veth peer name v0p', 'link set v0 master brvf', 'link set bondab.100 master brvf',
      'link set brvf up', 'link set bondab.100 up',
      'addr add 192.0.2.1/24 dev brvf', 'addr add 2001:db8:1::1/64 dev brvf',
      'addr add 198.51.100.2/24 dev bondad.200', 'link set bondad.200 up',
      'route add 10.10.0.0/16 via 198.51.100.1 table 100',
    ]);
    execFileSync('bridge', ['-n', ns, 'vlan', 'add', 'vid', '300', 'dev', 'v0']);
    execFileSync('bridge', ['-n', ns, 'fdb', 'add', '02:00:00:00:00:09', 'dev', 'v0', 'master', 'static']);
    await operstatesSettled(ns, ['bondab', 'bondad', 'bondab.100', 'bondad.200', 'brvf']);
    const native = await readKernelState({ netns: ns }, 'full');
    expect(comparable(native)).toEqual(comparable(await viaIproute(ns)));
    expect(native.links.bondab!.bond).toMatchObject({ mode: 'active-backup', opts: { primary: 'e1', miimon: '150' } });
    expect(native.links.bondad!.bond).toMatchObject({ mode: '802.3ad', opts: { lacp_rate: 'fast', xmit_hash_policy: 'layer2+3' } });
    expect(native.links['bondab.100']!.vlan).toEqual({ id: 100, protocol: '802.1Q' });
    expect(native.links['bondad.200']!.vlan).toEqual({ id: 200, protocol: '802.1ad' });
    expect(native.links.brvf!.bridge!.vlanFiltering).toBe(true);
    expect(native.links.e0!.bondSlave).toBeDefined();
  });

  it('the long-lived view follows bond, VLAN and vlan_filtering changes as iproute2 sees them', async () => {
    const view = new KernelView({ log: pino({ level: 'silent' }), netns: ns });
    await view.start();
    try {
      batch([
        'link set e1 nomaster', 'link set bondab type bond miimon 200',
        'link set brvf type bridge vlan_filtering 0',
        'link del bondad.200', 'link add link bondab name bondab.101 type vlan id 101',
        'link set bondab.100 nomaster', 'link set bondab.101 master brvf',
      ]);
      expect(comparable(await view.get())).toEqual(comparable(viewScope(await viaIproute(ns))));
      // every read re-reads the 802.3ad bond and the bond slaves (their LACP state is not
      // notified); one that finds them as they were keeps the rendered state (and what is cached
      // on it: capabilities, an empty plan). Before, every read made a new one on a host with bonds.
      const reads: Awaited<ReturnType<KernelView['get']>>[] = [];
      for (let i = 0; i < 5; i++) reads.push(await view.get());
      expect(reads.some((s, i) => i > 0 && s === reads[i - 1])).toBe(true);
      expect(new Set(reads.map((s) => view.configStamp(s))).size).toBe(1);
    } finally {
      await view.stop();
    }
  });
});
