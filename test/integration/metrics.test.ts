/**
 * --metrics: the Prometheus endpoint of a real daemon in a namespace, scraped (with curl inside
 * the namespace: the listener is on its loopback) while a change waits for its connectivity
 * confirmation and after it, then after a change that times out and rolls back.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { createNetnsHost, type NetnsHost } from '../helpers/netns.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RpcCallError, RpcTestClient } from '../helpers/rpc-client.js';

let host: NetnsHost;
let daemon: TestDaemon;
let client: RpcTestClient;
let url: string;

async function scrape(): Promise<string> {
  const r = await execa('ip', ['netns', 'exec', host.ns, 'curl', '-sS', '--fail', url]);
  return r.stdout;
}

/** The value of one sample, e.g. sample(text, 'hostnetd_clients{transport="ws"}'); undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  host = await createNetnsHost({ prefix: 'hnm-', nics: 2 });
  await execa('ip', ['-n', host.ns, 'link', 'set', 'lo', 'up']);
  daemon = await startTestDaemon({ ns: host.ns, args: ['--metrics', 'http://127.0.0.1:0/metrics', '--libvirt-uri', 'none'] });
  const ready = await daemon.waitForLog((l) => l.msg === 'ready');
  url = (ready['listen'] as string[]).find((a) => a.startsWith('http://'))!;
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  client = await RpcTestClient.connect({ socket: daemon.socket });
});
afterAll(async () => {
  await client?.close();
  await daemon?.cleanup();
  await host?.destroy();
});

describe('--metrics', () => {
  it('serves the listed names in the Prometheus text format, with the process metrics', async () => {
    await client.call('Host.getNetworkCapabilities'); // reads the kernel view: at least one enumeration
    const text = await scrape();
    for (const name of ['hostnetd_requests_total', 'hostnetd_change_duration_seconds', 'hostnetd_rollbacks_total',
      'hostnetd_connectivity_timeouts_total', 'hostnetd_clients', 'hostnetd_port_agent_passes_total',
      'hostnetd_port_agent_pass_duration_seconds', 'hostnetd_libvirt_connected', 'hostnetd_kernel_view_reenumerations_total',
      'hostnetd_dhcp_leases', 'hostnetd_process_cpu_seconds_total', 'hostnetd_process_resident_memory_bytes']) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
    expect(sample(text, 'hostnetd_libvirt_connected')).toBe(0);
    expect(sample(text, 'hostnetd_port_agent_passes_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'hostnetd_kernel_view_reenumerations_total')).toBeGreaterThanOrEqual(1);
  });

  it('counts a change while it waits for confirmation and after it commits', async () => {
    const mark = daemon.logs.length;
    const pending = client.call('Host.setupNetworks', { networks: { m1: { nic: 'veth_0' } }, options: { connectivityTimeout: 30 } });
    await daemon.waitForLog((l) => daemon.logs.indexOf(l) >= mark && l.event === 'await-connectivity');
    const during = await scrape();
    expect(sample(during, 'hostnetd_clients{transport="ws"}')).toBe(1);
    expect(sample(during, 'hostnetd_requests_total{verb="Host.setupNetworks",code="0",transport="ws"}')).toBeUndefined();
    expect(await client.call('Host.confirmConnectivity')).toBe(true);
    expect(await pending).toEqual({ code: 0, message: 'Done' });
    await daemon.waitForLog((l) => daemon.logs.indexOf(l) >= mark && l.msg === 'request' && l['method'] === 'Host.setupNetworks');
    const after = await scrape();
    expect(sample(after, 'hostnetd_requests_total{verb="Host.setupNetworks",code="0",transport="ws"}')).toBe(1);
    expect(sample(after, 'hostnetd_requests_total{verb="Host.confirmConnectivity",code="0",transport="ws"}')).toBe(1);
    for (const phase of ['validate', 'snapshot', 'journal', 'execute', 'verify', 'confirm', 'commit']) {
      expect(sample(after, `hostnetd_change_duration_seconds_count{phase="${phase}"}`), phase).toBe(1);
    }
  });

  it('counts a rollback by its cause and a connectivity timeout; unknown verbs share one label', async () => {
    const err = await client.call('Host.setupNetworks', { networks: { m2: { nic: 'veth_1' } }, options: { connectivityTimeout: 1 } })
      .then(() => undefined, (e: unknown) => e as RpcCallError);
    expect(err?.code).toBe(ErrorCode.LOST_CONNECTION);
    await expect(client.call('No.suchVerb')).rejects.toMatchObject({ code: ErrorCode.METHOD_NOT_FOUND });
    const text = await scrape();
    expect(sample(text, 'hostnetd_rollbacks_total{cause="connectivity"}')).toBe(1);
    expect(sample(text, 'hostnetd_connectivity_timeouts_total')).toBe(1);
    expect(sample(text, 'hostnetd_requests_total{verb="Host.setupNetworks",code="10",transport="ws"}')).toBe(1);
    expect(sample(text, 'hostnetd_requests_total{verb="other",code="-32601",transport="ws"}')).toBe(1);
  });
});
