import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Transactions, type TransactionDeps } from '../../../src/apply/transaction.js';
import { warmUp, warmUpInputs } from '../../../src/apply/warm-up.js';
import type { DhcpClients } from '../../../src/dhcp/clients.js';
import type { NetworkMirror } from '../../../src/model/changer.js';
import type { KernelFeatures } from '../../../src/model/kernel-state.js';
import { isRemoval } from '../../../src/model/request.js';
import { ConfigStore, RUNNING_FILE } from '../../../src/store/config-store.js';
import { canonicalizeRequest } from '../../../src/validate/request.js';
import { useTmpDirs } from '../store/tmpdir.js';

const tmpDir = useTmpDirs();
const ALL: KernelFeatures = { bonding: true, vlan: true, vlanFiltering: true, portIsolation: true, hfsc: true, fqCodel: true };

/** Any use of a dependency that reaches the outside world fails the test. */
const forbidden = <T extends object>(what: string) => new Proxy({} as T, {
  get: (_t, key) => { throw new Error(`warm-up touched ${what}.${String(key)}`); },
});

async function engine(features: KernelFeatures) {
  const dir = await tmpDir();
  const store = await ConfigStore.open(dir);
  await store.commitRunning({
    networks: { mgmt: { name: 'mgmt', bridged: true, nic: 'eth0', mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false }, defaultRoute: true,
      nameservers: [], bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel', switch: 'legacy', bootproto: 'dhcp', dhcpv6: false } },
    bonds: {},
  });
  const deps: TransactionDeps = {
    ipr: forbidden<TransactionDeps['ipr']>('ipr'), store, connectivity: forbidden<TransactionDeps['connectivity']>('connectivity'), stateDir: dir, fakeNics: [], resolvConf: path.join(dir, 'resolv.conf'),
    log: pino({ level: 'silent' }), features, mirror: forbidden<NetworkMirror>('mirror'), dhcp: forbidden<DhcpClients>('dhcp'), current: () => { throw new Error('warm-up read the kernel'); },
  };
  return { dir, store, tx: new Transactions(deps) };
}

describe('warm-up of the change path', () => {
  it('plans its synthetic networks in full and touches neither the kernel, libvirt, DHCP nor the state directory', async () => {
    const { dir, store, tx } = await engine(ALL);
    const running = store.running();
    const before = await readFile(path.join(dir, RUNNING_FILE), 'utf8');
    const { ops } = warmUp(tx, ALL, { rounds: 2, networks: 8 });
    // per NIC at least its bridge or address: a plan that stopped early (a refusal) has none
    expect(ops).toBeGreaterThanOrEqual(8 * 2);
    expect(store.running()).toBe(running);
    expect(await readdir(dir)).toEqual([RUNNING_FILE]);
    expect(await readFile(path.join(dir, RUNNING_FILE), 'utf8')).toBe(before);
  });

  it('asks a kernel without VLANs for none (a request it would refuse with 21)', async () => {
    const none: KernelFeatures = { ...ALL, vlan: false, bonding: false, vlanFiltering: false };
    const { tx } = await engine(none);
    expect(warmUp(tx, none, { rounds: 1, networks: 8 }).ops).toBeGreaterThanOrEqual(16);
    const { request } = warmUpInputs(8, none);
    expect(Object.values(request.networks).some((n) => n.vlan !== undefined)).toBe(false);
  });

  it('covers the shapes an engine sends most: bridged static IPv4, VLAN, bridgeless with IPv6, DHCP', () => {
    const { request, state } = warmUpInputs(8, ALL);
    const nets = Object.values(canonicalizeRequest(request).networks).filter((n) => !isRemoval(n));
    expect(nets.some((n) => !isRemoval(n) && n.bridged && n.vlan === undefined && n.ipv4?.address !== undefined)).toBe(true);
    expect(nets.some((n) => !isRemoval(n) && n.vlan !== undefined)).toBe(true);
    expect(nets.some((n) => !isRemoval(n) && !n.bridged && n.ipv6.addresses.length > 0)).toBe(true);
    expect(nets.some((n) => !isRemoval(n) && n.bootproto === 'dhcp')).toBe(true);
    // each on a NIC of its own that only the synthetic kernel has
    expect(Object.keys(state.links)).toHaveLength(8);
  });
});
