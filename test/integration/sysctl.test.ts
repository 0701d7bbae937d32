/**
 * The IPv6 sysctls a change journals and restores (autoconf, accept_ra), read from one link dump
 * (what a change of many networks uses) against the files under /proc/sys of the same
 * namespace, for devices whose values differ from each other and from the defaults, and a
 * device without IPv6 (MTU below 1280), which both leave out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readIpv6Autoconf, readIpv6AutoconfDump, type Ipv6Autoconf } from '../../src/kernel/sysctl.js';
import { cleanupStaleNetns, createNetnsHost, type NetnsHost } from '../helpers/netns.js';

const PREFIX = 'hnq-';
let host: NetnsHost;

beforeAll(async () => {
  await cleanupStaleNetns(PREFIX);
  host = await createNetnsHost({ prefix: PREFIX, nics: 4 });
  await host.exec('sysctl', ['-q', '-w', 'net.ipv6.conf.veth_0.autoconf=0', 'net.ipv6.conf.veth_0.accept_ra=2',
    'net.ipv6.conf.veth_1.accept_ra=0', 'net.ipv6.conf.veth_2.autoconf=0', 'net.ipv6.conf.veth_2.accept_ra=0']);
  // below IPv6's minimum MTU the device loses its IPv6 part, sysctls included
  await host.ip(['link', 'set', 'veth_3', 'mtu', '1200']);
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
