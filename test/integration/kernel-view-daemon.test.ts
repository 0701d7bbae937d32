/**
 * The real daemon reads one kernel view made current by a barrier: a NIC created (or renamed)
 * behind its back right before a request, or right after a change, is in that request's answer.
 * (The same with the view's event reading stalled: test/integration/kernel-view.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { RpcTestClient } from '../helpers/rpc-client.js';

type Obj = Record<string, any>;
let host: NetnsHost;
let daemon: TestDaemon;
let client: RpcTestClient;
const ip = (...a: string[]) => execFileSync('ip', ['-n', host.ns, ...a]);
const caps = () => client.call<Obj>('Host.getNetworkCapabilities');
const setup = (networks: Obj) => client.call('Host.setupNetworks', { networks, bondings: {}, options: { connectivityCheck: false } });

beforeAll(async () => {
  host = await createNetnsHost({ prefix: 'hnv-', nics: 1 });
  daemon = await startTestDaemon({ ns: host.ns });
  client = await RpcTestClient.connect(daemon.target);
});
afterAll(async () => {
  await client?.close();
  await daemon?.cleanup();
  await host?.destroy();
});

describe('requests see the kernel as of their arrival', () => {
  it('a NIC created and addressed right before setupNetworks is found (no 23)', async () => {
    for (let i = 0; i < 5; i++) {
      ip('link', 'add', `veth_late${i}`, 'type', 'veth', 'peer', 'name', `late${i}p`);
      ip('addr', 'add', `192.0.2.${10 + i}/24`, 'dev', `veth_late${i}`);
      await setup({ [`tn${i}`]: { nic: `veth_late${i}` } });
      expect((await caps()).networks[`tn${i}`]).toMatchObject({ ports: [`veth_late${i}`] });
    }
    await setup(Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`tn${i}`, { remove: true }])));
  });

  it('right after a change: a NIC plugged, then renamed, is reported as it is', async () => {
    await setup({ after: { nic: 'veth_0' } });
    ip('link', 'add', 'veth_hot', 'type', 'veth', 'peer', 'name', 'hotp');
    expect(Object.keys((await caps()).nics)).toContain('veth_hot');
    ip('link', 'set', 'veth_hot', 'name', 'veth_ren');
    const nics = Object.keys((await caps()).nics);
    expect(nics).toContain('veth_ren');
    expect(nics).not.toContain('veth_hot');
    await setup({ after: { remove: true } });
  });
});
