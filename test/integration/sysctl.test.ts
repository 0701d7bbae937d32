/**
 * The IPv6 sysctls a change journals and restores (autoconf, accept_ra), read from one link dump
 * (what a change of many networks uses) against the files under /proc/sys of the same
 * namespace, for devices whose values differ from each other and from the defaults, and a
 * device without IPv6 (MTU below 1280), which both leave out. Then the writes (the addon's
 * writeFiles, one or two pool threads), run by the built module in a process inside the namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { execa } from 'execa';
import { ErrorCode } from '../../src/errors.js';
import { readIpv6Autoconf, readIpv6AutoconfDump, type Ipv6Autoconf } from '../../src/kernel/sysctl.js';
import { REPO_ROOT, ensureBuilt } from '../helpers/daemon.js';
import { cleanupStaleNetns, createNetnsHost, type NetnsHost } from '../helpers/netns.js';

const PREFIX = 'hnq-';
/** more than one pool thread's share (sysctl.ts splits the list above 64 devices) */
const MANY = 150;
let host: NetnsHost;

beforeAll(async () => {
  await cleanupStaleNetns(PREFIX);
  host = await createNetnsHost({ prefix: PREFIX, nics: 4 });
  await host.exec('sysctl', ['-q', '-w', 'net.ipv6.conf.veth_0.autoconf=0', 'net.ipv6.conf.veth_0.accept_ra=2',
    'net.ipv6.conf.veth_1.accept_ra=0', 'net.ipv6.conf.veth_2.autoconf=0', 'net.ipv6.conf.veth_2.accept_ra=0']);
  // below IPv6's minimum MTU the device loses its IPv6 part, sysctls included
  await host.ip(['link', 'set', 'veth_3', 'mtu', '1200']);
  let script = '';
  for (let i = 0; i < MANY; i++) script += `link add d${i} type bridge\n`;
  await execa('ip', ['-n', host.ns, '-batch', '-'], { input: script });
  await ensureBuilt();
});

afterAll(async () => {
  await host?.destroy();
});

/** The files, read inside the namespace: "<dev> <autoconf> <accept_ra>" per device that has them. */
async function fromProc(devs: string[]): Promise<Map<string, Ipv6Autoconf>> {
  const out = new Map<string, Ipv6Autoconf>();
  for (const dev of devs) {
    const text = await host.exec('sh', ['-c', `cat /proc/sys/net/ipv6/conf/${dev}/autoconf /proc/sys/net/ipv6/conf/${dev}/accept_ra 2>/dev/null || true`]);
    const [autoconf, acceptRa] = text.trim().split('\n');
    if (autoconf !== undefined && acceptRa !== undefined && autoconf !== '') out.set(dev, { autoconf, acceptRa });
  }
  return out;
}

describe('IPv6 sysctls from a link dump', () => {
  const devs = ['lo', 'veth_0', 'veth_1', 'veth_2', 'veth_3', 'absent0'];

  it('are what /proc/sys says, in the order asked, leaving out devices without IPv6 and missing ones', async () => {
    const dump = await readIpv6AutoconfDump(devs, host.ns);
    const files = await fromProc(devs);
    expect([...dump]).toEqual([...files]);
    expect(dump.get('veth_0')).toEqual({ autoconf: '0', acceptRa: '2' });
    expect(dump.get('veth_1')).toEqual({ autoconf: '1', acceptRa: '0' });
    expect(dump.has('veth_3')).toBe(false);
    expect(dump.has('absent0')).toBe(false);
  });

  it('a write is seen by the next read (no cached view: sysctl writes raise no event)', async () => {
    await host.exec('sysctl', ['-q', '-w', 'net.ipv6.conf.veth_1.autoconf=0']);
    expect((await readIpv6Autoconf(['veth_1'], host.ns)).get('veth_1')).toEqual({ autoconf: '0', acceptRa: '0' });
  });
});

/** writeIpv6Autoconf(values, opts) by dist/kernel/sysctl.js in a process inside the namespace: 'ok' or the error's code and message. */
async function writeInNs(values: [string, Ipv6Autoconf][], absentOk: boolean): Promise<{ ok?: true; code?: number; message?: string }> {
  const mod = path.join(REPO_ROOT, 'dist/kernel/sysctl.js');
  const code = `const { writeIpv6Autoconf } = await import(${JSON.stringify(mod)});
    try { await writeIpv6Autoconf(new Map(JSON.parse(process.argv[1])), { absentOk: process.argv[2] === '1' }); console.log(JSON.stringify({ ok: true })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  return JSON.parse(await host.exec(process.execPath, ['--input-type=module', '-e', code, JSON.stringify(values), absentOk ? '1' : '0'])) as never;
}

describe('IPv6 sysctl writes', () => {
  const many = Array.from({ length: MANY }, (_, i) => `d${i}`);
  /** values that differ from device to device, so a write landing on another device shows */
  const valuesOf = (i: number, round: number): Ipv6Autoconf => ({ autoconf: String((i + round) % 2), acceptRa: String((i + round) % 3) });

  it('every device gets its own values, across both threads; a device without IPv6 is skipped with absentOk', async () => {
    for (const round of [1, 2]) {
      const values = many.map((d, i) => [d, valuesOf(i, round)] as [string, Ipv6Autoconf]);
      expect(await writeInNs([...values, ['veth_3', { autoconf: '0', acceptRa: '0' }]], true)).toEqual({ ok: true });
      expect([...(await readIpv6AutoconfDump(many, host.ns))]).toEqual(values);
    }
  });

  it('a refused write names the first failing device in order, with the errno; the devices before it are written', async () => {
    const values = many.map((d, i) => [d, valuesOf(i, 3)] as [string, Ipv6Autoconf]);
    // d100 is in the second thread's share, d120 after it: the kernel refuses a value that is not a number
    values[100]![1] = { autoconf: '1', acceptRa: 'x' };
    values[120]![1] = { autoconf: 'y', acceptRa: '1' };
    const r = await writeInNs(values, true);
    expect(r.code).toBe(ErrorCode.APPLY_FAILED);
    expect(r.message).toBe("the kernel refused an IPv6 sysctl write (ipv6autoconf) of d100: EINVAL: Invalid argument, write '/proc/sys/net/ipv6/conf/d100/accept_ra'");
    const after = await readIpv6AutoconfDump(many, host.ns);
    expect([...after].slice(0, 100)).toEqual(values.slice(0, 100));
    // a group stops at its first failure: d100 kept its autoconf
    expect(after.get('d100')).toEqual(valuesOf(100, 1 + 1));
  });

  it('without absentOk, a device without IPv6 is an error naming it', async () => {
    const r = await writeInNs([['d0', { autoconf: '0', acceptRa: '0' }], ['veth_3', { autoconf: '0', acceptRa: '0' }]], false);
    expect(r).toEqual({ code: ErrorCode.APPLY_FAILED, message: "the kernel refused an IPv6 sysctl write (ipv6autoconf) of veth_3: ENOENT: No such file or directory, open '/proc/sys/net/ipv6/conf/veth_3/accept_ra'" });
  });
});
