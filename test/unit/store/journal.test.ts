import { appendFile, readFile, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, HostnetError } from '../../../src/errors.js';
import type { KernelState } from '../../../src/kernel/types.js';
import { JOURNAL_FILE, Journal, newJournalId, type JournalEntry } from '../../../src/store/journal.js';
import { useTmpDirs } from './tmpdir.js';

const tmpDir = useTmpDirs();

const kernel: KernelState = {
  links: {
    eth0: {
      ifindex: 2, name: 'eth0', kind: 'veth', mtu: 1500, address: '52:54:00:00:00:01', up: true,
      operstate: 'UP', promiscuity: 0,
    },
  },
  addresses: [{ ifname: 'eth0', family: 'inet', local: '192.0.2.10', prefixlen: 24, scope: 'global', dynamic: false, tentative: false }],
  routes: [{ family: 'inet', table: 'main', dst: 'default', gateway: '192.0.2.1', dev: 'eth0', type: 'unicast' }],
  fdb: [],
  takenAt: 1_700_000_000_000,
};

function entry(over: Partial<JournalEntry> = {}): JournalEntry {
  return {
    version: 1,
    id: newJournalId(),
    startedAt: new Date().toISOString(),
    phase: 'applying',
    before: { config: { networks: {}, bonds: {} }, kernel },
    desired: { networks: {}, bonds: {} },
    touched: ['br0', 'eth0'],
    ...over,
  };
}

async function storeError(p: Promise<unknown>): Promise<HostnetError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(HostnetError);
  expect((e as HostnetError).code).toBe(ErrorCode.STORE_FAILED);
  return e as HostnetError;
}

describe('Journal', () => {
  it('has nothing pending in a fresh state directory', async () => {
    expect(await new Journal(await tmpDir()).pending()).toBeNull();
  });

  it('records an entry durably on begin, readable by a new instance (the next start)', async () => {
    const dir = await tmpDir();
    const e = entry();
    await new Journal(dir).begin(e);
    expect(await readdir(dir)).toEqual([JOURNAL_FILE]);
    expect(await new Journal(dir).pending()).toEqual(e);
  });

  it('advances through the phases, each visible after a restart', async () => {
    const dir = await tmpDir();
    const j = new Journal(dir);
    const e = entry();
    await j.begin(e);
    for (const phase of ['verifying', 'confirming', 'committing'] as const) {
      await j.advance(phase);
      expect(await new Journal(dir).pending()).toEqual({ ...e, phase });
    }
    // A new instance can advance an entry it only read from disk.
    const k = new Journal(dir);
    await k.advance('verifying');
    expect((await j.pending())?.phase).toBe('verifying');
  });

  it('clears durably, after which a new transaction may begin', async () => {
    const dir = await tmpDir();
    const j = new Journal(dir);
    await j.begin(entry());
    await j.advance('verifying');
    await j.clear();
    expect(await readdir(dir)).toEqual([]);
    expect(await new Journal(dir).pending()).toBeNull();
    await j.clear(); // idempotent
    const next = entry();
    await j.begin(next);
    expect(await j.pending()).toEqual(next);
  });

  it('refuses to begin while another transaction is pending, keeping the first', async () => {
    const dir = await tmpDir();
    const first = entry();
    await new Journal(dir).begin(first);
    const e = await storeError(new Journal(dir).begin(entry()));
    expect(e.message).toContain(path.join(dir, JOURNAL_FILE));
    expect(await new Journal(dir).pending()).toEqual(first);
  });

  it('refuses to advance when nothing is pending', async () => {
    const dir = await tmpDir();
    await storeError(new Journal(dir).advance('verifying'));
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps its own copy of the entry', async () => {
    const dir = await tmpDir();
    const j = new Journal(dir);
    const e = entry();
    await j.begin(e);
    e.touched.push('eth9');
    const got = await j.pending();
    got!.touched.push('eth8');
    expect((await j.pending())?.touched).toEqual(['br0', 'eth0']);
  });

  it('ignores a torn last line (a crash during advance) and repairs it on the next advance', async () => {
    const dir = await tmpDir();
    const e = entry();
    const j = new Journal(dir);
    await j.begin(e);
    await j.advance('verifying');
    await appendFile(path.join(dir, JOURNAL_FILE), '{"phase":"confi');
    const k = new Journal(dir);
    expect(await k.pending()).toEqual({ ...e, phase: 'verifying' });
    await k.advance('confirming');
    expect(await new Journal(dir).pending()).toEqual({ ...e, phase: 'confirming' });
    expect((await readFile(path.join(dir, JOURNAL_FILE), 'utf8')).includes('"confi\n')).toBe(false);
  });

  for (const [what, text] of [
    ['an unparseable entry', '{"version":1,"id":"x"'],
    ['an empty file', ''],
    ['an unknown version', JSON.stringify({ ...entry(), version: 2 }) + '\n'],
    ['an entry without before', JSON.stringify({ ...entry(), before: undefined }) + '\n'],
    ['damage before the last line', JSON.stringify(entry()) + '\nxx\n{"phase":"verifying"}\n'],
    ['an unknown phase', JSON.stringify(entry()) + '\n{"phase":"dancing"}\n'],
  ] as const) {
    it(`reports ${what} clearly, naming the file`, async () => {
      const dir = await tmpDir();
      await writeFile(path.join(dir, JOURNAL_FILE), text);
      const e = await storeError(new Journal(dir).pending());
      expect(e.message).toMatch(new RegExp(`^journal ${path.join(dir, JOURNAL_FILE)} is unreadable: `));
      expect(await readFile(path.join(dir, JOURNAL_FILE), 'utf8')).toBe(text);
    });
  }

  it('advances a large entry with one small append', async () => {
    const dir = await tmpDir();
    const links: KernelState['links'] = {};
    for (let i = 0; i < 2000; i++) links[`veth${i}`] = { ...kernel.links.eth0!, name: `veth${i}`, ifindex: i + 10 };
    const j = new Journal(dir);
    await j.begin(entry({ before: { config: { networks: {}, bonds: {} }, kernel: { ...kernel, links } } }));
    const size = (await readFile(path.join(dir, JOURNAL_FILE))).length;
    await j.advance('verifying');
    const grown = (await readFile(path.join(dir, JOURNAL_FILE))).length - size;
    expect(grown).toBeLessThan(100);
    expect(Object.keys((await new Journal(dir).pending())!.before.kernel.links)).toHaveLength(2000);
  });
});
