// Runs INSIDE a VM of the test tier (see test/vm/ports.test.ts): the port agent on a kernel with
// bridge vlan_filtering and a real virtio uplink. With macTableManager 'libvirt' the agent turns
// vlan_filtering on, and once the uplink is the bridge's only learning+flooding port the kernel
// takes it out of promiscuous mode (br_manage_promisc) — the performance win libvirt's
// macTableManager exists for. A guest port whose MAC is unknown keeps learning, and the uplink
// goes back to promiscuous mode: the price of never leaving a port without its FDB entry.
import { execa } from 'execa';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectKernelFeatures } from '../../../src/kernel/features.js';
import { createIproute } from '../../../src/kernel/iproute.js';
import type { KernelFeatures } from '../../../src/model/kernel-state.js';
import type { HostConfig, Network } from '../../../src/model/types.js';
import { PortAgent } from '../../../src/ports/agent.js';

interface Link {
  ifname: string;
  promiscuity?: number;
  linkinfo?: { info_data?: Record<string, unknown>; info_slave_data?: Record<string, unknown> };
}

async function run(cmd: string, ...args: string[]): Promise<string> {
  return (await execa(cmd, args)).stdout;
}
async function link(name: string): Promise<Link> {
  const [l] = JSON.parse(await run('ip', '-j', '-d', 'link', 'show', 'dev', name)) as Link[];
  if (!l) throw new Error(`no link ${name}`);
  return l;
}
async function portFlags(name: string) {
  const d = (await link(name)).linkinfo?.info_slave_data ?? {};
  return { isolated: d.isolated, learning: d.learning, flood: d.flood };
}

const MACS = new Map([['g0', ['52:54:00:0a:00:01']], ['g1', ['52:54:00:0a:00:02']]]);
const net: Network = {
  name: 'vmnet', bridged: true, nic: 'eth0', mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false },
  defaultRoute: false, nameservers: [], bridgeOpts: {}, portIsolation: true, macTableManager: 'libvirt',
  switch: 'legacy', bootproto: 'none', dhcpv6: false,
};
const config: HostConfig = { networks: { vmnet: net }, bonds: {} };
let features: KernelFeatures;
let agent: PortAgent;

beforeAll(async () => {
  if (process.env.HOSTNETD_VM !== '1') throw new Error('inner VM tests run only inside the VM tier (HOSTNETD_VM=1)');
  await execa('ip', ['-batch', '-'], {
    input: [
      'link add vmnet type bridge', 'link set vmnet up', 'link set eth0 master vmnet', 'link set eth0 up',
      'link add g0 type veth peer name g0b', 'link add g1 type veth peer name g1b',
      'link set g0 master vmnet up', 'link set g1 master vmnet up', 'link set g0b up', 'link set g1b up', '',
    ].join('\n'),
  });
  features = await detectKernelFeatures();
  agent = new PortAgent({
    ipr: createIproute(), config: () => config, guestMacs: async () => MACS, features, log: pino({ level: 'silent' }), periodMs: 0,
  });
});
afterAll(async () => {
  await agent?.stop();
  for (const dev of ['g2', 'g1', 'g0', 'vmnet']) await execa('ip', ['link', 'del', dev], { reject: false });
  await execa('ip', ['link', 'set', 'eth0', 'nomaster'], { reject: false });
});

describe('port agent with bridge vlan_filtering (guest kernel)', () => {
  it('the kernel has vlan_filtering; before the agent, the uplink is promiscuous like every bridge port', async () => {
    expect(features.vlanFiltering).toBe(true);
    expect((await link('vmnet')).linkinfo?.info_data?.vlan_filtering).toBe(0);
    expect((await link('eth0')).promiscuity).toBe(1);
  });

  it('macTableManager libvirt: vlan_filtering on, guest ports isolated without learning or flood, entries in', async () => {
    await agent.start();
    expect((await link('vmnet')).linkinfo?.info_data?.vlan_filtering).toBe(1);
    expect(await portFlags('g0')).toEqual({ isolated: true, learning: false, flood: false });
    expect(await portFlags('g1')).toEqual({ isolated: true, learning: false, flood: false });
    expect(await portFlags('eth0')).toEqual({ isolated: false, learning: true, flood: true });
    const fdb = JSON.parse(await run('bridge', '-j', 'fdb', 'show', 'br', 'vmnet')) as { mac: string; ifname: string; state?: string; vlan?: number }[];
    const statics = fdb.filter((e) => e.state === 'static' && e.vlan === undefined).map((e) => `${e.mac} ${e.ifname}`).sort();
    expect(statics).toEqual(['52:54:00:0a:00:01 g0', '52:54:00:0a:00:02 g1']);
  });

  it('the uplink, now the only learning port, leaves promiscuous mode', async () => {
    expect((await link('eth0')).promiscuity).toBe(0);
  });

  it('a guest port with an unknown MAC keeps learning, and the uplink goes back to promiscuous mode until it leaves', async () => {
    await run('ip', 'link', 'add', 'g2', 'type', 'veth', 'peer', 'name', 'g2b');
    await run('ip', 'link', 'set', 'g2', 'master', 'vmnet', 'up');
    const r = await agent.reconcile('test');
    expect(r.warnings.map((w) => w.port)).toEqual(['g2']);
    expect(await portFlags('g2')).toEqual({ isolated: true, learning: true, flood: true });
    expect((await link('eth0')).promiscuity).toBe(1);
    await run('ip', 'link', 'del', 'g2');
    await agent.reconcile('test');
    expect((await link('eth0')).promiscuity).toBe(0);
  });

  it('a second pass changes nothing', async () => {
    const r = await agent.reconcile('test');
    expect(r.ipLines + r.bridgeLines).toBe(0);
  });
});
