import { readFile, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, HostnetError } from '../../../src/errors.js';
import type { Bond, HostConfig, Network } from '../../../src/model/types.js';
import { ConfigStore, RUNNING_FILE, SAFE_FILE } from '../../../src/store/config-store.js';
import { useTmpDirs } from './tmpdir.js';

const tmpDir = useTmpDirs();

function net(name: string, over: Partial<Network> = {}): Network {
  return {
    name,
    bridged: true,
    nic: 'eth0',
    mtu: 1500,
    stp: false,
    ipv4: { address: '192.0.2.10', prefix: 24, gateway: '192.0.2.1' },
    ipv6: { addresses: [], autoconf: false },
    defaultRoute: false,
    nameservers: [],
    bridgeOpts: {},
    portIsolation: false,
    macTableManager: 'kernel',
    switch: 'legacy',
    bootproto: 'none',
    dhcpv6: false,
    ...over,
  };
}

const bond = (name: string): Bond => ({ name, nics: ['eth2', 'eth1'], options: { mode: 'active-backup', miimon: '100' } });

function config(...nets: Network[]): HostConfig {
  return { networks: Object.fromEntries(nets.map((n) => [n.name, n])), bonds: {} };
}

/** The same object with its keys inserted in reverse order, at every level. */
function reverseKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reverseKeys) as T;
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.keys(v).reverse().map((k) => [k, reverseKeys((v as Record<string, unknown>)[k])])) as T;
}

async function storeError(p: Promise<unknown>): Promise<HostnetError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(HostnetError);
  expect((e as HostnetError).code).toBe(ErrorCode.STORE_FAILED);
  return e as HostnetError;
}

describe('ConfigStore', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('opens an empty state directory as two empty configs, not dirty', async () => {
    const dir = await tmpDir();
    const s = await ConfigStore.open(dir);
    expect(s.running()).toEqual({ networks: {}, bonds: {} });
    expect(s.safe()).toEqual({ networks: {}, bonds: {} });
    expect(s.isDirty()).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });

  it('writes a versioned, sorted, 2-space-indented document and reads it back', async () => {
    const dir = await tmpDir();
    const s = await ConfigStore.open(dir);
    const cfg: HostConfig = { networks: { zeta: net('zeta'), alpha: net('alpha', { nic: 'eth1', mtu: 9000 }) }, bonds: { bond0: bond('bond0') } };
    await s.commitRunning(cfg);

    const text = await readFile(path.join(dir, RUNNING_FILE), 'utf8');
    expect(text.startsWith('{\n  "version": 1,\n  "networks": {\n    "alpha": {\n      "bootproto": "none",\n      "bridgeOpts": {},\n      "bridged": true,')).toBe(true);
    expect(text.indexOf('"alpha"')).toBeLessThan(text.indexOf('"zeta"'));
    expect(text.indexOf('"networks"')).toBeLessThan(text.indexOf('"bonds"'));
    // Array order is meaning, not formatting: kept as given.
    expect(JSON.parse(text).bonds.bond0.nics).toEqual(['eth2', 'eth1']);
    expect(text.endsWith('}\n')).toBe(true);

    const again = await ConfigStore.open(dir);
    expect(again.running()).toEqual(cfg);
    expect(again.safe()).toEqual({ networks: {}, bonds: {} });
    expect(again.isDirty()).toBe(true);
  });

  it('keeps a copy of what it commits and hands out configs nobody can edit', async () => {
    const s = await ConfigStore.open(await tmpDir());
    const cfg = config(net('a'));
    await s.commitRunning(cfg);
    cfg.networks.a!.mtu = 1;
    const out = s.running();
    expect(() => { out.networks.a!.ipv4!.address = '203.0.113.1'; }).toThrow(TypeError);
    expect(() => { delete out.networks.a; }).toThrow(TypeError);
    expect(s.running()).toEqual(config(net('a')));
    await s.makeSafe();
    expect(() => s.safe().networks.a!.nameservers.push('192.0.2.53')).toThrow(TypeError);
    expect(s.safe()).toEqual(config(net('a')));
    // a reopened store hands out frozen configs too
    const again = await ConfigStore.open(s.stateDir);
    expect(Object.isFrozen(again.running().networks.a!.ipv4)).toBe(true);
  });

  it('is dirty exactly when running and safe differ, whatever the key order', async () => {
    const dir = await tmpDir();
    const s = await ConfigStore.open(dir);
    await s.commitRunning(config(net('a'), net('b')));
    expect(s.isDirty()).toBe(true);
    await s.makeSafe();
    expect(s.isDirty()).toBe(false);
    expect(await readFile(path.join(dir, SAFE_FILE), 'utf8')).toBe(await readFile(path.join(dir, RUNNING_FILE), 'utf8'));

    await s.commitRunning(reverseKeys(config(net('b'), net('a'))));
    expect(s.isDirty()).toBe(false);
    await s.commitRunning(config(net('a'), net('b', { mtu: 1400 })));
    expect(s.isDirty()).toBe(true);
    await s.commitRunning(config(net('a'), net('b')));
    expect(s.isDirty()).toBe(false);
    // Reordering a list is a real change.
    await s.commitRunning({ networks: {}, bonds: { bond0: { ...bond('bond0'), nics: ['eth1', 'eth2'] } } });
    await s.makeSafe();
    await s.commitRunning({ networks: {}, bonds: { bond0: bond('bond0') } });
    expect(s.isDirty()).toBe(true);
  });

  it('keeps the dirty state across a restart, also for a hand-reformatted safe file', async () => {
    const dir = await tmpDir();
    const s = await ConfigStore.open(dir);
    await s.commitRunning(config(net('a')));
    await s.makeSafe();
    // An admin re-indents safe.json and reorders its keys: same config, so not dirty.
    const doc = JSON.parse(await readFile(path.join(dir, SAFE_FILE), 'utf8'));
    await writeFile(path.join(dir, SAFE_FILE), JSON.stringify(reverseKeys(doc)));
    expect((await ConfigStore.open(dir)).isDirty()).toBe(false);
  });

  it('refuses a file written by a newer format version, naming it', async () => {
    const dir = await tmpDir();
    const body = JSON.stringify({ version: 2, networks: {}, bonds: {}, vrfs: {} });
    await writeFile(path.join(dir, RUNNING_FILE), body);
    const e = await storeError(ConfigStore.open(dir));
    expect(e.message).toContain(path.join(dir, RUNNING_FILE));
    expect(e.message).toContain('format version 2');
    expect(e.message).toContain('reads up to version 1');
    expect(await readFile(path.join(dir, RUNNING_FILE), 'utf8')).toBe(body);
  });

  for (const [what, body] of [
    ['invalid JSON', '{"version": 1, "networks": {"a": {'],
    ['no version', '{"networks": {}, "bonds": {}}'],
    ['a network under the wrong name', JSON.stringify({ version: 1, networks: { a: { name: 'b' } }, bonds: {} })],
    ['bonds not an object', JSON.stringify({ version: 1, networks: {}, bonds: [] })],
    ['an empty file', ''],
  ] as const) {
    it(`reports a corrupt safe file (${what}) by name and leaves it alone`, async () => {
      const dir = await tmpDir();
      await writeFile(path.join(dir, SAFE_FILE), body);
      const e = await storeError(ConfigStore.open(dir));
      expect(e.message).toMatch(new RegExp(`^${path.join(dir, SAFE_FILE)} is corrupt: `));
      expect(await readFile(path.join(dir, SAFE_FILE), 'utf8')).toBe(body);
    });
  }

  it('ignores and removes a temporary file left by a crashed writer', async () => {
    const dir = await tmpDir();
    const s = await ConfigStore.open(dir);
    await s.commitRunning(config(net('a')));
    const leftover = `.${RUNNING_FILE}.tmp-999999999-abcdef`; // beyond pid_max: never alive
    await writeFile(path.join(dir, leftover), '{"version": 1, "netw');
    const again = await ConfigStore.open(dir);
    expect(again.running()).toEqual(config(net('a')));
    expect(await readdir(dir)).toEqual([RUNNING_FILE]);
  });

  it('refuses a config whose entry names do not match their keys', async () => {
    const s = await ConfigStore.open(await tmpDir());
    await storeError(s.commitRunning({ networks: { a: net('b') }, bonds: {} }));
    expect(s.running()).toEqual({ networks: {}, bonds: {} });
  });

  it('keeps the previous config in memory and on disk when a write fails', async () => {
    const dir = await tmpDir();
    const s = await ConfigStore.open(dir);
    await s.commitRunning(config(net('a')));
    const before = await readFile(path.join(dir, RUNNING_FILE), 'utf8');
    const { rm } = await import('node:fs/promises');
    await rm(dir, { recursive: true });
    const e = await storeError(s.commitRunning(config(net('b'))));
    expect(e.message).toContain(path.join(dir, RUNNING_FILE));
    expect(s.running()).toEqual(config(net('a')));
    expect(before).toContain('"a"');
  });

  it('commits 1000 networks with one file fsync and one directory fsync', async () => {
    const dir = await tmpDir();
    const s = await ConfigStore.open(dir);
    const nets = Array.from({ length: 1000 }, (_, i) =>
      net(`net${i}`, { nic: `veth${i}`, ipv4: { address: `10.${i >> 8}.${i & 255}.1`, prefix: 24 } }),
    );
    const cfg = config(...nets);

    // Count fsyncs through the FileHandle prototype that every fs.promises handle shares.
    const fh = await (await import('node:fs/promises')).open(dir, 'r');
    const proto = Object.getPrototypeOf(fh) as { sync: () => Promise<void> };
    await fh.close();
    const sync = vi.spyOn(proto, 'sync');

    const t0 = performance.now();
    await s.commitRunning(cfg);
    const ms = performance.now() - t0;
    expect(sync).toHaveBeenCalledTimes(2);
    console.log(`commitRunning(1000 networks): ${ms.toFixed(1)} ms, ${(await readFile(s.runningPath)).length} bytes`);

    // The same config again (keys in another order) is already stored: nothing is written.
    const reordered = reverseKeys(cfg);
    const t2 = performance.now();
    await s.commitRunning(reordered);
    console.log(`commitRunning(same 1000 networks): ${(performance.now() - t2).toFixed(1)} ms`);
    expect(sync).toHaveBeenCalledTimes(2);

    const t1 = performance.now();
    await s.makeSafe();
    console.log(`makeSafe(1000 networks): ${(performance.now() - t1).toFixed(1)} ms`);
    expect(sync).toHaveBeenCalledTimes(4);
    expect(s.isDirty()).toBe(false);
    expect((await ConfigStore.open(dir)).running()).toEqual(cfg);
  });
});
