import { appendFile, readFile, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, HostnetError } from '../../../src/errors.js';
import type { KernelState } from '../../../src/model/kernel-state.js';
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

  it('reads the phase lines earlier versions appended (a change interrupted across an upgrade)', async () => {
    const dir = await tmpDir();
    const e = entry();
    const phases = ['verifying', 'confirming', 'committing'].map((phase) => JSON.stringify({ type: 'phase', phase, at: 'x' }) + '\n');
    await writeFile(path.join(dir, JOURNAL_FILE), JSON.stringify({ type: 'begin', ...e }) + '\n' + phases.join(''));
    expect(await new Journal(dir).pending()).toEqual({ ...e, phase: 'committing' });
  });

  it('clears durably, after which a new transaction may begin', async () => {
    const dir = await tmpDir();
    const j = new Journal(dir);
    await j.begin(entry());
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

  it('ignores a torn last line (an earlier version crashed while appending a phase)', async () => {
    const dir = await tmpDir();
    const e = entry();
    await new Journal(dir).begin(e);
    await appendFile(path.join(dir, JOURNAL_FILE), '{"type":"phase","phase":"verifying","at":"x"}\n{"phase":"confi');
    expect(await new Journal(dir).pending()).toEqual({ ...e, phase: 'verifying' });
  });

  it('writes the entry once: the change costs the journal no fsync between begin and clear', async () => {
    const dir = await tmpDir();
    const e = entry();
    await new Journal(dir).begin(e);
    const text = await readFile(path.join(dir, JOURNAL_FILE), 'utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(1);
    expect(JSON.parse(text)).toMatchObject({ type: 'begin', id: e.id, phase: 'applying' });
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
});
