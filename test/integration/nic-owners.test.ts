/**
 * A NIC with a DHCP client hostnetd did not start (busybox's udhcpc, really sending DISCOVERs on
 * it) is refused with 21 naming the client, and nothing changes; once the client is gone the
 * same request succeeds. (NetworkManager is not installed on the test machine: its rule is
 * covered by test/unit/validate/nic-owners.test.ts.)
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RpcCallError, RpcTestClient } from '../helpers/rpc-client.js';
import { comparableState } from '../helpers/state.js';
import { existsSync, readFileSync } from 'node:fs';

let host: NetnsHost;
let daemon: TestDaemon;
let client: RpcTestClient;
let bin: string;

beforeAll(async () => {
  host = await createNetnsHost({ prefix: 'hno-', nics: 2 });
  daemon = await startTestDaemon({ ns: host.ns, args: ['--libvirt-uri', 'none'] });
  client = await RpcTestClient.connect({ socket: daemon.socket });
  bin = await mkdtemp(path.join(tmpdir(), 'hostnetd-udhcpc-'));
  await symlink('/bin/busybox', path.join(bin, 'udhcpc'));
});
afterAll(async () => {
  await client?.close();
  await daemon?.cleanup();
  await host?.destroy();
  if (bin) await rm(bin, { recursive: true, force: true });
});

describe('a NIC another DHCP client manages', () => {
  it('is refused with 21 naming the client; nothing changes; without the client it is taken', async () => {
    await execa('ip', ['-n', host.ns, 'link', 'set', 'veth_1', 'up']);
    // foreground, retrying forever, and a script that configures nothing
    const udhcpc: ResultPromise = execa('ip', ['netns', 'exec', host.ns, path.join(bin, 'udhcpc'), '-f', '-i', 'veth_1', '-s', '/bin/true', '-t', '100000'], { reject: false });
    try {
      const pid = await waitForProcess('udhcpc', 'veth_1');
      const before = await comparableState(host.ns);
      const runningBefore = runningText();
      const err = await client.call('Host.setupNetworks', { networks: { dn: { nic: 'veth_1' } }, options: { connectivityCheck: false } })
        .then(() => undefined, (e: unknown) => e as RpcCallError);
      expect(err).toBeInstanceOf(RpcCallError);
      expect(err!.code).toBe(ErrorCode.BAD_PARAMS);
      expect(err!.message).toBe(`RPC error 21: network 'dn': nic veth_1 has a DHCP client hostnetd did not start: udhcpc (pid ${pid}); stop it first (ifdown veth_1, or the service that runs it) (README, "Taking over a host")`);
      expect(await comparableState(host.ns)).toEqual(before);
      expect(runningText()).toEqual(runningBefore);
      // another NIC of the same request shape is not affected
      expect(await client.call('Host.setupNetworks', { networks: { ok: { nic: 'veth_0' } }, options: { connectivityCheck: false } }))
        .toEqual({ code: 0, message: 'Done' });
    } finally {
      udhcpc.kill('SIGTERM');
      await udhcpc;
    }
    expect(await client.call('Host.setupNetworks', { networks: { dn: { nic: 'veth_1' } }, options: { connectivityCheck: false } }))
      .toEqual({ code: 0, message: 'Done' });
  });
});

/** The running config file as it is on disk, or null before the first change. */
function runningText(): string | null {
  const file = path.join(daemon.stateDir, 'running.json');
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
}

/** The pid of the process whose argv[0] ends in `program` and names `nic`, once /proc shows it. */
async function waitForProcess(program: string, nic: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { stdout } = await execa('pgrep', ['-f', `${program} -f -i ${nic}`], { reject: false });
    const pids = stdout.split('\n').filter(Boolean).map(Number);
    const pid = pids.find((p) => p !== process.pid);
    if (pid !== undefined) return pid;
    if (Date.now() > deadline) throw new Error(`${program} on ${nic} never appeared`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
