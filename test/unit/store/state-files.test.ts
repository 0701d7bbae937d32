/**
 * Every file hostnetd reads is checked against its declared schema (store/schema.ts): a file of
 * the wrong shape is refused with 103 naming the file and the field, and left as it is; a file
 * changed behind the daemon's back is kept aside before it is replaced. The state directory must
 * belong to the daemon's user and be writable by nobody else.
 */
import { chmod, chown, lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDaemonArgs } from '../../../src/daemon/options.js';
import { ErrorCode, HostnetError } from '../../../src/errors.js';
import type { Network } from '../../../src/model/types.js';
import { ConfigStore, RUNNING_FILE, SAFE_FILE } from '../../../src/store/config-store.js';
import { Journal, JOURNAL_FILE } from '../../../src/store/journal.js';
import { secureStateDir } from '../../../src/store/permissions.js';
import { useTmpDirs } from './tmpdir.js';

const tmpDir = useTmpDirs();

const NET: Network = {
  name: 'br0', bridged: true, nic: 'eth0', mtu: 1500, stp: false, ipv6: { addresses: [], autoconf: false },
  defaultRoute: false, nameservers: [], bridgeOpts: {}, portIsolation: false, macTableManager: 'kernel',
  switch: 'legacy', bootproto: 'none', dhcpv6: false,
};

const configText = (net: Record<string, unknown>) => JSON.stringify({ version: 1, networks: { [String(net.name)]: net }, bonds: {} });

async function refusal(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(HostnetError);
  expect((e as HostnetError).code).toBe(ErrorCode.STORE_FAILED);
  return (e as HostnetError).message;
}

describe('running.json and safe.json of the wrong shape', () => {
  it.each([
    ['an entry missing fields', (() => { const { mtu: _m, stp: _s, ...rest } = NET; return rest; })(), 'networks.br0.mtu'],
    ['mtu "abc"', { ...NET, mtu: 'abc' }, 'networks.br0.mtu'],
    ['a name with a space', { ...NET, name: 'br 0' }, 'networks.br 0'],
    ['a nic that is not an interface name', { ...NET, nic: 'eth0; reboot' }, 'networks.br0.nic'],
    ['an unknown field', { ...NET, colour: 'blue' }, 'networks.br0'],
    ['an unknown bridge option', { ...NET, bridgeOpts: { toString: '1' } }, 'networks.br0.bridgeOpts'],
    ['a bad address', { ...NET, ipv4: { address: '300.0.0.1', prefix: 24 } }, 'networks.br0.ipv4.address'],
    ['a hostQos curve without m2', { ...NET, hostQos: { out: { ls: { m1: 5, d: 5 } } } }, 'networks.br0.hostQos.out.ls.m2'],
  ])('%s is refused with 103 naming the file and the field, and the file is left as it is', async (_, net, field) => {
    for (const file of [RUNNING_FILE, SAFE_FILE]) {
      const dir = await tmpDir();
      const text = configText(net as Record<string, unknown>);
      await writeFile(path.join(dir, file), text);
      const message = await refusal(ConfigStore.open(dir));
      expect(message).toContain(path.join(dir, file));
      expect(message).toContain(`field ${field}`);
      expect(await readFile(path.join(dir, file), 'utf8')).toBe(text);
      expect(await readdir(dir)).toEqual([file]);
    }
  });

  it('an entry stored under another name is refused', async () => {
    const dir = await tmpDir();
    await writeFile(path.join(dir, RUNNING_FILE), JSON.stringify({ version: 1, networks: { br1: NET }, bonds: {} }));
    expect(await refusal(ConfigStore.open(dir))).toContain("field networks.br1.name: is stored under 'br1' but named 'br0'");
  });

  it('a file changed behind the daemon is kept aside as .refused-<time> before it is replaced', async () => {
    const dir = await tmpDir();
    const store = await ConfigStore.open(dir);
    await store.commitRunning({ networks: { br0: NET }, bonds: {} });
    const edited = configText({ ...NET, mtu: 'abc' });
    await writeFile(path.join(dir, RUNNING_FILE), edited);
    await store.commitRunning({ networks: {}, bonds: {} });
    const aside = (await readdir(dir)).filter((f) => f.startsWith(`${RUNNING_FILE}.refused-`));
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(dir, aside[0]!), 'utf8')).toBe(edited);
    expect(JSON.parse(await readFile(path.join(dir, RUNNING_FILE), 'utf8'))).toEqual({ version: 1, networks: {}, bonds: {} });
    // an unchanged file is replaced without a copy
    await store.commitRunning({ networks: { br0: NET }, bonds: {} });
    expect((await readdir(dir)).filter((f) => f.includes('.refused-'))).toHaveLength(1);
  });

  it('a valid file formatted by hand is read as it is and replaced without a copy', async () => {
    const dir = await tmpDir();
    await writeFile(path.join(dir, RUNNING_FILE), configText(NET as unknown as Record<string, unknown>));
    const store = await ConfigStore.open(dir);
    expect(store.running().networks.br0).toEqual(NET);
    await store.commitRunning({ networks: {}, bonds: {} });
    expect(await readdir(dir)).toEqual([RUNNING_FILE]);
  });
});

describe('journal.jsonl of the wrong shape', () => {
  const kernel = { links: {}, addresses: [], routes: [], fdb: [], takenAt: 1 };
  const begin = (over: Record<string, unknown> = {}) => ({
    type: 'begin', version: 1, id: 'a', startedAt: 'now', phase: 'applying',
    before: { config: { networks: {}, bonds: {} }, kernel }, desired: { networks: {}, bonds: {} }, touched: ['br0'], ...over,
  });

  it.each([
    ['a touched device that is not an interface name', [begin({ touched: ['br0 x'] })], 'line 1: field touched.0'],
    ['a desired network of the wrong shape', [begin({ desired: { networks: { br0: { ...NET, mtu: 'abc' } }, bonds: {} } })], 'line 1: field desired.networks.br0.mtu'],
    ['a kernel link without a name', [begin({ before: { config: { networks: {}, bonds: {} }, kernel: { ...kernel, links: { br0: { mtu: 1 } } } } })], 'line 1: field before.kernel.links.br0'],
    ['a tc class with a handle that is not one', [begin({ before: { config: { networks: {}, bonds: {} }, kernel, tc: { eth0: { qdiscs: [], classes: [{ handle: '1389:; reboot', parent: '1389:', kind: 'hfsc' }], filters: [] } } } })], 'line 1: field before.tc.eth0.classes.0.handle'],
    ['an unknown phase', [begin(), { type: 'phase', phase: 'dancing', at: 'x' }], 'line 2: field phase'],
    ['an unknown record type', [begin(), { type: 'sysctl-typo' }, { type: 'phase', phase: 'verifying', at: 'x' }], 'line 2: field type'],
    ['a second transaction', [begin(), begin()], 'line 2 begins a second transaction'],
    ['a phase line first', [{ type: 'phase', phase: 'verifying', at: 'x' }], "line 1 is a 'phase' record"],
  ])('%s is refused with 103 naming the file and the field', async (_, lines, field) => {
    const dir = await tmpDir();
    const text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    await writeFile(path.join(dir, JOURNAL_FILE), text);
    const message = await refusal(new Journal(dir).pending());
    expect(message).toContain(path.join(dir, JOURNAL_FILE));
    expect(message).toContain(field);
    expect(await readFile(path.join(dir, JOURNAL_FILE), 'utf8')).toBe(text);
  });

  it('reads a journal written before lines had a type (an upgrade across a crash)', async () => {
    const dir = await tmpDir();
    const { type: _t, ...legacy } = begin();
    await writeFile(path.join(dir, JOURNAL_FILE), `${JSON.stringify(legacy)}\n${JSON.stringify({ phase: 'verifying', at: 'x' })}\n`);
    expect(await new Journal(dir).pending()).toMatchObject({ id: 'a', phase: 'verifying' });
  });
});

describe('--config of the wrong shape', () => {
  const parse = (doc: unknown) => parseDaemonArgs(['--config', '/etc/h.json'], () => JSON.stringify(doc));
  it('names the file and the field', () => {
    expect(() => parse({ listen: [1] })).toThrow(/--config \/etc\/h\.json: field listen: listen must be a string or a list of strings/);
    expect(() => parse({ keepalive: true })).toThrow(/--config \/etc\/h\.json: field keepalive: keepalive must be a string/);
    expect(() => parse({ toString: 'x' })).toThrow(/unknown key "toString"/);
  });
});

describe('state directory permissions', () => {
  it('removes write permission for group and others, with one fix reported per path', async () => {
    const dir = await tmpDir();
    await writeFile(path.join(dir, SAFE_FILE), '{}');
    await chmod(dir, 0o777);
    await chmod(path.join(dir, SAFE_FILE), 0o666);
    const fixes = await secureStateDir(dir);
    expect(fixes).toEqual([
      { path: dir, from: '0777', to: '0755' },
      { path: path.join(dir, SAFE_FILE), from: '0666', to: '0644' },
    ]);
    expect((await lstat(dir)).mode & 0o777).toBe(0o755);
    expect(await secureStateDir(dir)).toEqual([]);
  });

  it('refuses a directory or a file owned by another user', async () => {
    const dir = await tmpDir();
    await writeFile(path.join(dir, RUNNING_FILE), '{}');
    await chown(path.join(dir, RUNNING_FILE), 65534, 65534);
    expect(await refusal(secureStateDir(dir))).toMatch(/file .*running\.json is owned by uid 65534, not by hostnetd's user \(uid 0\)/);
    const other = await tmpDir();
    expect(await refusal(secureStateDir(other, 1234))).toMatch(/directory .* is owned by uid 0, not by hostnetd's user \(uid 1234\)/);
  });

  it('refuses a symlink or a directory inside it, and a state directory that is a symlink', async () => {
    const dir = await tmpDir();
    await symlink('/etc/passwd', path.join(dir, SAFE_FILE));
    expect(await refusal(secureStateDir(dir))).toMatch(/safe\.json is not a regular file/);
    const dir2 = await tmpDir();
    await mkdir(path.join(dir2, 'sub'));
    expect(await refusal(secureStateDir(dir2))).toMatch(/sub is not a regular file/);
    const dir3 = await tmpDir();
    await symlink(dir2, path.join(dir3, 'link'));
    expect(await refusal(secureStateDir(path.join(dir3, 'link')))).toMatch(/is not a directory/);
  });
});
