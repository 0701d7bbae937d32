/**
 * One test file's host: a namespace with veth NICs, the daemon in it and a client on its socket,
 * made before the file's tests and torn down after them; and the check every refusal test makes
 * (the answer's code and words, the namespace and the running config exactly as before).
 *
 *   let host: NetnsHost; let daemon: TestDaemon; let client: RpcTestClient;
 *   useDaemonHost({ prefix: 'hnq-', nics: 2 }, (e) => ({ host, daemon, client } = e));
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { createNetnsHost, type NetnsHost } from './netns.js';
import { startTestDaemon, type StartDaemonOptions, type TestDaemon } from './daemon.js';
import { RpcCallError, RpcTestClient } from './rpc-client.js';
import { comparableState, readRunning } from './state.js';

export interface DaemonHost {
  host: NetnsHost;
  daemon: TestDaemon;
  client: RpcTestClient;
}

export function useDaemonHost(o: { prefix: string; nics: number; daemon?: Omit<StartDaemonOptions, 'ns'> }, set: (e: DaemonHost) => void): void {
  let e: Partial<DaemonHost> = {};
  beforeAll(async () => {
    const host = await createNetnsHost({ prefix: o.prefix, nics: o.nics });
    e = { host };
    const daemon = await startTestDaemon({ ...o.daemon, ns: host.ns });
    e.daemon = daemon;
    e.client = await RpcTestClient.connect({ socket: daemon.socket });
    set(e as DaemonHost);
  });
  afterAll(async () => {
    await e.client?.close();
    await e.daemon?.cleanup();
    await e.host?.destroy();
  });
}

/** A setupNetworks that must be refused: its error, after checking that nothing changed. */
export async function refusedUnchanged(
  { host, daemon, client }: DaemonHost, networks: Record<string, unknown>, bondings: Record<string, unknown> = {},
  options: Record<string, unknown> = { connectivityCheck: false },
): Promise<RpcCallError> {
  const before = await comparableState(host.ns);
  const running = readRunning(daemon.stateDir);
  const err = await client.call('Host.setupNetworks', { networks, bondings, options })
    .then(() => { throw new Error('expected a refusal'); }, (x: unknown) => x as RpcCallError);
  expect(err).toBeInstanceOf(RpcCallError);
  expect(await comparableState(host.ns)).toEqual(before);
  expect(readRunning(daemon.stateDir)).toEqual(running);
  return err;
}
