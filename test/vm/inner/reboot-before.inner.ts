// The real reboot test, first boot (see test/vm/reboot.test.ts): networks and a bond set up
// and made safe, then an unsafe change, then the VM powers off. The daemon's state directory
// is on the share that survives the reboot; so is what the second boot compares against.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { link, networkingState, startVmHost, type VmHost } from './vmhost.js';

const share = process.env.HOSTNETD_VM_SHARE!;
let host: VmHost | undefined;
afterAll(async () => {
  // power loss, not a clean stop: nothing may depend on the daemon saying goodbye
  await host?.daemon.stop('SIGKILL');
  await host?.client.close().catch(() => undefined);
});

export const SAFE = {
  networks: {
    mgmt: { bonding: 'bond1', vlan: 100, ipaddr: '192.0.2.10', prefix: 24, gateway: '192.0.2.1', defaultRoute: true },
    storage: { bonding: 'bond1', vlan: 200, bridged: false, mtu: 2000, ipaddr: '198.51.100.10', prefix: 24 },
    vms: { nic: 'eth2', vlan: 0 },
  },
  bondings: { bond1: { nics: ['eth0', 'eth1'], options: 'mode=active-backup miimon=100 primary=eth0', hwaddr: '02:00:00:00:01:01' } },
};

it('sets up networks and a bond, makes them safe, then makes an unsafe change', async () => {
  host = await startVmHost({ stateDir: join(share, 'state') });
  await host.setup(SAFE.networks, SAFE.bondings);
  expect(await host.client.call('Host.setSafeNetworkConfig')).toBe(true);
  await writeFile(join(share, 'safe-config.json'), JSON.stringify(host.running()));
  await writeFile(join(share, 'safe-state.json'), JSON.stringify(await networkingState()));

  const caps = await host.setup(
    { vms: { remove: true }, unsafe: { nic: 'eth3', vlan: 300, ipaddr: '203.0.113.3', prefix: 24 } },
    { bond1: { nics: ['eth0', 'eth1', 'eth4'], options: 'mode=active-backup miimon=200' } },
  );
  expect(caps.netConfigDirty).toBe(true);
  expect(caps.bondings.bond1).toMatchObject({ slaves: ['eth0', 'eth1', 'eth4'], opts: { mode: '1', miimon: '200' } });
  expect((await link('eth3.300'))?.master).toBe('unsafe');
  expect(await link('vms')).toBeUndefined();
  await writeFile(join(share, 'unsafe-state.json'), JSON.stringify(await networkingState()));
});
