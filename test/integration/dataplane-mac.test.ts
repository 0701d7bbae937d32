/**
 * macTableManager 'libvirt' on the data plane: the real daemon reads the guests' MACs from a
 * libvirt test-driver node whose running domain has three interfaces; the test driver names
 * their targets testnet0..2, so the VM namespaces' ports carry those names. A fourth port
 * (vmx3) has no guest in libvirt: it must keep learning and flooding, and doubles as the
 * control that shows the capture would see flooded frames.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { attach, capture, createVm, destroyVms, execIn, pings, portFlags, until, type Vm } from './dataplane-helpers.js';

const GUEST_MACS = ['52:54:00:00:02:00', '52:54:00:00:02:01', '52:54:00:00:02:02'];
const STRAY_MAC = '52:54:00:00:02:03';
const UNKNOWN_MAC = '52:54:00:ee:ee:ee';

function nodeXml(): string {
  const ifaces = GUEST_MACS.map((mac) =>
    `<interface type='bridge'><mac address='${mac}'/><source bridge='macnet'/><model type='virtio'/></interface>`).join('\n      ');
  return `<node>
  <domain type='test'>
    <name>hnp-guest</name>
    <uuid>3b0e2a57-61f4-4d55-9d8e-0b7f5f2a9c10</uuid>
    <memory>65536</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <devices>
      ${ifaces}
    </devices>
  </domain>
</node>
`;
}

let host: NetnsHost;
let daemon: TestDaemon;
let client: RpcTestClient;
let nodeDir: string;
const vms: Vm[] = [];

beforeAll(async () => {
  nodeDir = mkdtempSync(join(tmpdir(), 'hnp-libvirt-'));
  writeFileSync(join(nodeDir, 'node.xml'), nodeXml());
  host = await createNetnsHost({ prefix: 'hnp-', nics: 1 });
  for (let i = 0; i < 3; i++) vms.push(await createVm('hnp-', host.ns, `testnet${i}`, i, GUEST_MACS[i]!));
  vms.push(await createVm('hnp-', host.ns, 'vmx3', 3, STRAY_MAC));
  daemon = await startTestDaemon({ ns: host.ns, args: ['--libvirt-uri', `test://${join(nodeDir, 'node.xml')}`] });
  client = await RpcTestClient.connect({ socket: daemon.socket });
  await client.call('Host.setupNetworks', {
    networks: { macnet: { nic: 'veth_0', macTableManager: 'libvirt' } }, bondings: {}, options: { connectivityCheck: false },
  });
  for (const vm of vms) await attach(host.ns, vm, 'macnet');
});
afterAll(async () => {
  await client?.close();
  await daemon?.cleanup();
  await destroyVms(vms);
  await host?.destroy();
  if (nodeDir) rmSync(nodeDir, { recursive: true, force: true });
});

describe('macTableManager libvirt on the data plane', () => {
  it('guest ports: learning and flood off; the uplink and the guest-less port keep both on, with a warning', async () => {
    await until('guest ports managed', async () => {
      for (const vm of vms.slice(0, 3)) {
        const f = await portFlags(host.ns, vm.port);
        if (f?.learning !== false || f.flood !== false) return false;
      }
      return true;
    });
    for (const vm of vms.slice(0, 3)) expect(await portFlags(host.ns, vm.port)).toEqual({ isolated: false, learning: false, flood: false });
    expect(await portFlags(host.ns, 'veth_0')).toEqual({ isolated: false, learning: true, flood: true });
    expect(await portFlags(host.ns, 'vmx3')).toEqual({ isolated: false, learning: true, flood: true });
    const warning = await daemon.waitForLog((l) => l.event === 'port-policy-warning' && l.port === 'vmx3');
    expect(warning.msg).toMatch(/learning and flood on/);
  });

  it('the FDB holds exactly the guests\' MACs as static entries, reported by capabilities', async () => {
    const caps = await client.call<any>('Host.getNetworkCapabilities');
    const fdb = (caps.bridges.macnet.fdb as { mac: string; port: string }[]).map((e) => `${e.mac} ${e.port}`).sort();
    expect(fdb).toEqual(GUEST_MACS.map((mac, i) => `${mac} testnet${i}`));
    expect(caps.networks.macnet.macTableManager).toBe('libvirt');
    expect(caps.bridges.macnet.portFlags.testnet0).toEqual({ isolated: false, learning: false, flood: false });
  });

  it('traffic between guests and to the gateway still flows', async () => {
    const [a, b, c] = vms as [Vm, Vm, Vm];
    const results = await Promise.all([
      pings(a.ns, b.ipv4), pings(b.ns, c.ipv6), pings(c.ns, a.ipv4),
      pings(a.ns, '192.0.2.1'), pings(b.ns, '2001:db8::1'), pings(host.swNs, c.ipv4), pings(host.swNs, a.ipv6),
    ]);
    expect(results).toEqual([true, true, true, true, true, true, true]);
  });

  it('a frame to an unknown unicast MAC reaches no guest port (but the flooding port does see it)', async () => {
    const filter = `ether dst ${UNKNOWN_MAC}`;
    const caps = await Promise.all(vms.map((vm) => capture(vm.ns, 'eth0', filter)));
    await execIn(host.swNs, 'ip', ['neigh', 'replace', '192.0.2.99', 'lladdr', UNKNOWN_MAC, 'dev', 'sw', 'nud', 'permanent']);
    // no one answers: only the frames matter
    await execIn(host.swNs, 'ping', ['-c', '5', '-i', '0.2', '-W', '1', '192.0.2.99']);
    const counts = await Promise.all(caps.map((c) => c.stop()));
    expect(counts.slice(0, 3)).toEqual([0, 0, 0]);
    expect(counts[3]).toBeGreaterThanOrEqual(5);
  });
});
