/**
 * hostQos on this machine's kernel, which has neither HFSC nor fq_codel (test-machine.md): the
 * capabilities say so, and a request with hostQos is refused with 21 naming the missing qdiscs,
 * through the API and through hostnetctl's --qos-out-* flags, with nothing touched. A bad curve
 * is refused first with its own field. The HFSC layout itself is proven in the VM tier
 * (test/vm/qos.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { NetnsHost } from '../helpers/netns.js';
import { refusedUnchanged, useDaemonHost } from '../helpers/daemon-host.js';
import { runCli, type TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';
import { readRunning } from '../helpers/state.js';

let host: NetnsHost;
let daemon: TestDaemon;
let client: RpcTestClient;

const QOS = { out: { ls: { m1: 4_000_000, d: 100_000, m2: 3_000_000 }, ul: { m2: 8_000_000 } } };

useDaemonHost({ prefix: 'hnq-', nics: 2 }, (e) => ({ host, daemon, client } = e));
const env = () => ({ host, daemon, client });

describe('hostQos on a kernel without HFSC', () => {
  it('capabilities list the missing qdiscs under hostnet.kernel', async () => {
    const caps = await client.call('Host.getNetworkCapabilities') as { hostnet: { kernel: Record<string, boolean> } };
    expect(caps.hostnet.kernel).toMatchObject({ hfsc: false, fqCodel: false });
  });

  it('a network without hostQos works here (and gives the refusals below a running config to keep)', async () => {
    const r = await client.call('Host.setupNetworks', { networks: { plain: { nic: 'veth_1' } }, bondings: {}, options: { connectivityCheck: false } });
    expect(r).toEqual({ code: 0, message: 'Done' });
    expect(readRunning(daemon.stateDir).networks.plain).toBeDefined();
  });

  it('a network with hostQos is refused with 21 naming HFSC and fq_codel; nothing changes', async () => {
    const err = await refusedUnchanged(env(), { shaped: { nic: 'veth_0', hostQos: QOS } });
    expect(err.code).toBe(ErrorCode.BAD_PARAMS);
    expect(err.message).toBe("RPC error 21: network 'shaped': hostQos needs the kernel's HFSC (sch_hfsc) and fq_codel (sch_fq_codel) qdisc, which this kernel lacks (see hostnet.kernel in the capabilities)");
  });

  it('a bad curve is named before the kernel is asked', async () => {
    const err = await refusedUnchanged(env(), { shaped: { nic: 'veth_0', hostQos: { out: { ul: { m2: 8_000_000 } } } } });
    expect(err.code).toBe(ErrorCode.BAD_PARAMS);
    expect(err.message).toContain("network 'shaped': hostQos.out.ls is required");
  });

  it('hostnetctl --qos-out-ls/--qos-out-ul reach the daemon and get the same refusal', async () => {
    const r = await runCli(['--socket', daemon.socket, 'setup', '--net', 'shaped', '--nic', 'veth_0', '--qos-out-ls', 'm1=4000000,d=100000,m2=3000000', '--qos-out-ul', 'm2=8000000', '--no-check']);
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain('hostQos needs the kernel\'s HFSC');
    expect(readRunning(daemon.stateDir).networks.shaped).toBeUndefined();
  });
});
