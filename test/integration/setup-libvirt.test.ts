/**
 * setupNetworks keeps one libvirt network per bridged network in step, through the in-project
 * binding against libvirt's test driver (inside the daemon: no libvirtd).
 */
import { describe, expect, it } from 'vitest';
import { useDaemonHost } from '../helpers/daemon-host.js';
import type { TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { expectRunningMatchesCaps, readRunning } from '../helpers/state.js';

let daemon: TestDaemon;
let client: RpcTestClient;
const opts = { connectivityCheck: false };

useDaemonHost({ prefix: 'hnt-', nics: 2, daemon: { args: ['--libvirt-uri', 'test:///default'] } }, (e) => ({ daemon, client } = e));

type Caps = { networks: Record<string, { libvirtNetwork: unknown }>; hostnet: { libvirt: { connected: boolean; uri: string } } };

describe('setupNetworks with libvirt (test driver)', () => {
  it('defines and starts vdsm-<net> for bridged networks only', async () => {
    await client.call('Host.setupNetworks', { networks: { vmnet: { nic: 'veth_0' }, flat: { nic: 'veth_1', bridged: false } }, options: opts });
    const caps = await client.call<Caps>('Host.getNetworkCapabilities');
    expect(caps.hostnet.libvirt).toMatchObject({ connected: true, uri: 'test:///default' });
    expect(caps.networks.vmnet?.libvirtNetwork).toEqual({ name: 'vdsm-vmnet', active: true });
    expect(caps.networks.flat?.libvirtNetwork ?? null).toBeNull();
    expectRunningMatchesCaps(readRunning(daemon.stateDir), caps);
  });

  it('removes the libvirt network with the hostnetd network', async () => {
    await client.call('Host.setupNetworks', { networks: { vmnet: { remove: true }, iso: { portIsolation: true } }, options: opts });
    const caps = await client.call<Caps>('Host.getNetworkCapabilities');
    expect(caps.networks.vmnet).toBeUndefined();
    expect(caps.networks.iso?.libvirtNetwork).toEqual({ name: 'vdsm-iso', active: true });
  });

});
