// The real reboot test, second boot (see test/vm/reboot.test.ts): a fresh kernel, the same
// state directory. `hostnetd restore` brings the safe config back exactly; the unsafe change
// is gone, from the kernel and from the running config.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { DAEMON_MAIN } from '../../helpers/daemon.js';
import { expectConfigMatchesCaps, link, networkingState, startVmHost, useHostBuild, type VmHost } from './vmhost.js';

const share = process.env.HOSTNETD_VM_SHARE!;
const stateDir = join(share, 'state');
const readJson = async (name: string) => JSON.parse(await readFile(join(share, name), 'utf8'));
let host: VmHost | undefined;
afterAll(async () => {
  await host?.stop();
});

describe('after the reboot', () => {
  it('the kernel is fresh: no bond, no vlan, no bridge; the state directory survived', async () => {
    expect(await link('bond1')).toBeUndefined();
    expect(await link('mgmt')).toBeUndefined();
    expect(await link('unsafe')).toBeUndefined();
    const running = JSON.parse(await readFile(join(stateDir, 'running.json'), 'utf8'));
    expect(Object.keys(running.networks).sort(), 'the running config is the unsafe one').toEqual(['mgmt', 'storage', 'unsafe']);
  });

  it('hostnetd restore brings the safe config back exactly, and the unsafe change is gone', async () => {
    await useHostBuild();
    const dir = await mkdtemp(join(tmpdir(), 'hostnetd-restore-'));
    const r = await execa(process.execPath, [
      DAEMON_MAIN, 'restore', '--state-dir', stateDir, '--run-dir', join(dir, 'run'), '--resolv-conf', join(dir, 'resolv.conf'),
      '--libvirt-uri', 'none', '--log-level', 'warn',
    ], { reject: false });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('restored safe config: 3 network(s) [mgmt, storage, vms], 1 bond(s) [bond1]');

    const safeState = await readJson('safe-state.json');
    expect(await networkingState()).toEqual(safeState);
    expect(await networkingState()).not.toEqual(await readJson('unsafe-state.json'));
    expect(await link('unsafe')).toBeUndefined();
    expect(await link('eth3.300')).toBeUndefined();
    expect((await link('eth4'))?.master).toBeUndefined();
    const running = JSON.parse(await readFile(join(stateDir, 'running.json'), 'utf8'));
    expect({ networks: running.networks, bonds: running.bonds }).toEqual(await readJson('safe-config.json'));
  });

  it('the daemon starts on the restored state: capabilities agree with the running config, which is the safe one', async () => {
    host = await startVmHost({ stateDir });
    const caps = await host.caps();
    expectConfigMatchesCaps(host.running(), caps);
    expect(caps.netConfigDirty).toBe(false);
    expect(caps.bondings.bond1).toMatchObject({
      slaves: ['eth0', 'eth1'], hwaddr: '02:00:00:00:01:01', opts: { mode: '1', miimon: '100', primary: 'eth0' },
    });
    expect(caps.networks.mgmt).toMatchObject({ iface: 'mgmt', southbound: 'bond1.100', addr: '192.0.2.10', gateway: '192.0.2.1', ipv4defaultroute: true });
    expect(caps.vlans['bond1.200']).toMatchObject({ iface: 'bond1', vlanid: 200, mtu: '2000', addr: '198.51.100.10' });
    expect(caps.vlans['eth2.0']).toMatchObject({ iface: 'eth2', vlanid: 0 });
  });
});
