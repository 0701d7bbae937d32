/**
 * Port mirroring through the real daemon in a namespace: a bridged network `mirnet` with an
 * address (so the host itself sends through the bridge), two "VM" namespaces on veth ports, and
 * mirror taps held open by a reader as qemu holds a guest's tap (test/integration/dataplane-helpers
 * openTap), enslaved to the same bridge as an oVirt mirroring VM's tap is. tcpdump on a mirror tap
 * counts ICMP echo requests and replies: VM to VM crosses the bridge (ingress, thanks to the
 * promiscuous bridge), VM to host enters and leaves it (ingress, then the root qdisc).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { attach, capture, createVm, destroyVms, openTap, pings, until, type Vm } from './dataplane-helpers.js';

const NET = 'mirnet';
const HOST_IP = '192.0.2.50';

let host: NetnsHost;
let daemon: TestDaemon;
let client: RpcTestClient;
const vms: Vm[] = [];
const taps: { close(): Promise<void> }[] = [];
const stopped: TestDaemon[] = [];

const tc = async (...args: string[]) => (await execa('ip', ['netns', 'exec', host.ns, 'tc', ...args])).stdout;
const qdiscKinds = async () => (JSON.parse((await tc('-j', 'qdisc', 'show', 'dev', NET)) || '[]') as { kind: string }[]).map((q) => q.kind).sort();
const promisc = async () => ((JSON.parse(await host.ip(['-j', 'link', 'show', 'dev', NET])) as { flags: string[] }[])[0]!.flags).includes('PROMISC');
const mirrorsCaps = async () => (await client.call<any>('Host.getNetworkCapabilities')).hostnet.mirrors;

async function tap(name: string): Promise<{ close(): Promise<void> }> {
  const t = await openTap(host.ns, name);
  taps.push(t);
  await host.ip(['link', 'set', name, 'master', NET, 'up']);
  return t;
}

/** ICMP echo requests and replies between `a` and `b` seen on `dev` while `a` pings `b` three times */
async function seen(dev: string, a: string, b: string, from: Vm): Promise<{ requests: number; replies: number }> {
  const req = await capture(host.ns, dev, `icmp[icmptype] == 8 and src ${a} and dst ${b}`);
  const rep = await capture(host.ns, dev, `icmp[icmptype] == 0 and src ${b} and dst ${a}`);
  for (let i = 0; i < 3; i++) expect(await pings(from.ns, b)).toBe(true);
  return { requests: await req.stop(), replies: await rep.stop() };
}

beforeAll(async () => {
  host = await createNetnsHost({ prefix: 'hnm-', nics: 1 });
  for (let i = 0; i < 2; i++) vms.push(await createVm('hnm-', host.ns, `vmm${i}`, i, `52:54:00:00:03:0${i}`));
  daemon = await startTestDaemon({ ns: host.ns });
  client = await RpcTestClient.connect({ socket: daemon.socket });
  await client.call('Host.setupNetworks', {
    networks: { [NET]: { nic: 'veth_0', ipaddr: HOST_IP, netmask: '255.255.255.0' } },
    bondings: {}, options: { connectivityCheck: false },
  });
  for (const vm of vms) await attach(host.ns, vm, NET);
  await tap('mtap0');
});
afterAll(async () => {
  for (const t of taps) await t.close().catch(() => undefined);
  await client?.close();
  await daemon?.cleanup();
  for (const d of stopped) await d.cleanup();
  await destroyVms(vms);
  await host?.destroy();
});

describe('Host.setPortMirroring / Host.unsetPortMirroring', () => {
  it('bad input gets a precise error and changes nothing', async () => {
    expect(await client.callError('Host.setPortMirroring', { network: 'nonet', tap: 'mtap0' }))
      .toMatchObject({ code: 27, message: expect.stringContaining("network 'nonet' is not a bridged network") });
    expect(await client.callError('Host.setPortMirroring', { network: 'bad net', tap: 'mtap0' })).toMatchObject({ code: 27 });
    expect(await client.callError('Host.setPortMirroring', { network: NET, tap: 'x y' }))
      .toMatchObject({ code: 21, message: expect.stringContaining('tap must be an interface name') });
    expect(await client.callError('Host.setPortMirroring', { network: NET, tap: 'nosuchtap' }))
      .toMatchObject({ code: 21, message: expect.stringContaining("tap 'nosuchtap' does not exist") });
    expect(await client.callError('Host.setPortMirroring', { network: NET, tap: NET }))
      .toMatchObject({ code: 21, message: expect.stringContaining("network's own bridge") });
    expect(await client.callError('Host.setPortMirroring', { network: NET })).toMatchObject({ code: -32602 });
    expect(await client.callError('Host.setPortMirroring', { network: 7, tap: 'mtap0' })).toMatchObject({ code: 27 });
    expect(await qdiscKinds()).toEqual(['noqueue']);
    expect(await promisc()).toBe(false);
    expect(await mirrorsCaps()).toEqual({});
  });

  it('control: without mirroring, the tap sees none of the traffic between two other ports', async () => {
    expect(await seen('mtap0', vms[0]!.ipv4, vms[1]!.ipv4, vms[0]!)).toEqual({ requests: 0, replies: 0 });
  });

  it('with mirroring on, the tap sees both directions between two other ports, and to and from the host', async () => {
    expect(await client.call('Host.setPortMirroring', { network: NET, tap: 'mtap0' })).toBe(true);
    expect(await mirrorsCaps()).toEqual({ [NET]: ['mtap0'] });
    expect(await qdiscKinds()).toEqual(['htb', 'ingress']);
    expect(await promisc()).toBe(true);
    const between = await seen('mtap0', vms[0]!.ipv4, vms[1]!.ipv4, vms[0]!);
    expect(between.requests).toBeGreaterThanOrEqual(3);
    expect(between.replies).toBeGreaterThanOrEqual(3);
    // the replies leave the host through the bridge: the root qdisc's filter mirrors them
    const toHost = await seen('mtap0', vms[1]!.ipv4, HOST_IP, vms[1]!);
    expect(toHost.requests).toBeGreaterThanOrEqual(3);
    expect(toHost.replies).toBeGreaterThanOrEqual(3);
    expect(JSON.parse(readFileSync(join(daemon.stateDir, 'mirrors.json'), 'utf8'))).toEqual({ version: 1, mirrors: { [NET]: ['mtap0'] } });
    // the same request again changes nothing and answers true
    expect(await client.call('Host.setPortMirroring', { network: NET, tap: 'mtap0' })).toBe(true);
  });

  it('kept across a daemon restart: what went missing meanwhile is put back', async () => {
    const stateDir = daemon.stateDir;
    await client.close();
    await daemon.stop();
    await tc('qdisc', 'del', 'dev', NET, 'ingress');
    // the old daemon's folder holds the state dir: removed only at the end
    stopped.push(daemon);
    daemon = await startTestDaemon({ ns: host.ns, stateDir });
    client = await RpcTestClient.connect({ socket: daemon.socket });
    expect(await mirrorsCaps()).toEqual({ [NET]: ['mtap0'] });
    expect(await qdiscKinds()).toEqual(['htb', 'ingress']);
    const between = await seen('mtap0', vms[0]!.ipv4, vms[1]!.ipv4, vms[0]!);
    expect(between.requests).toBeGreaterThanOrEqual(3);
    expect(between.replies).toBeGreaterThanOrEqual(3);
  });

  it('after unset the tap sees none, and the bridge is as before (no qdiscs, not promiscuous)', async () => {
    expect(await client.call('Host.unsetPortMirroring', { network: NET, tap: 'mtap0' })).toBe(true);
    expect(await mirrorsCaps()).toEqual({});
    expect(await qdiscKinds()).toEqual(['noqueue']);
    expect(await promisc()).toBe(false);
    expect(await seen('mtap0', vms[0]!.ipv4, vms[1]!.ipv4, vms[0]!)).toEqual({ requests: 0, replies: 0 });
    // unsetting what is not mirrored is a no-op
    expect(await client.call('Host.unsetPortMirroring', { network: NET, tap: 'mtap0' })).toBe(true);
  });

  it('a mirror tap that goes away (its guest stopped) is dropped; the other tap keeps mirroring', async () => {
    const gone = await tap('mtap1');
    await client.call('Host.setPortMirroring', { network: NET, tap: 'mtap0' });
    await client.call('Host.setPortMirroring', { network: NET, tap: 'mtap1' });
    expect(await mirrorsCaps()).toEqual({ [NET]: ['mtap0', 'mtap1'] });
    await gone.close();
    await daemon.waitForLog((l) => l.msg === 'port mirrors dropped (network or tap gone)', 20_000);
    expect(await mirrorsCaps()).toEqual({ [NET]: ['mtap0'] });
    const between = await seen('mtap0', vms[0]!.ipv4, vms[1]!.ipv4, vms[0]!);
    expect(between.requests).toBeGreaterThanOrEqual(3);
  });

  it('removing the network removes its mirrors', async () => {
    await client.call('Host.setupNetworks', { networks: { [NET]: { remove: true } }, bondings: {}, options: { connectivityCheck: false } });
    await until('mirrors gone from capabilities', async () => JSON.stringify(await mirrorsCaps()) === '{}');
    expect(JSON.parse(readFileSync(join(daemon.stateDir, 'mirrors.json'), 'utf8'))).toEqual({ version: 1, mirrors: {} });
  });
});
