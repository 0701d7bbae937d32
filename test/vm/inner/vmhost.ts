// Shared by the inner files of the bond/VLAN suites (runs INSIDE a VM of the test tier): the
// real daemon managing the VM's own root namespace (eth0..ethN are real virtio NICs, veth_*
// are fake NICs), driven over its socket as the engine would, with VDSM's invariant checked
// after every successful call: the running config agrees with capabilities, bonds included.
import { existsSync } from 'node:fs';
import { readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';
import { bondCapsOpts } from '../../../src/caps/bond-opts.js';
import { bondModeNumber, defaultBondValue, numericBondValue } from '../../../src/model/bond-options.js';
import { parseBondInfo } from '../../../src/kernel/parse.js';
import type { HostConfig } from '../../../src/model/types.js';
import { DAEMON_MAIN, REPO_ROOT, startTestDaemon, type StartDaemonOptions, type TestDaemon } from '../../helpers/daemon.js';
import { RpcCallError, RpcTestClient } from '../../helpers/rpc-client.js';
import { expectRunningMatchesCaps, readRunning } from '../../helpers/state.js';

export type Dict = Record<string, any>;

export interface VmHost {
  daemon: TestDaemon;
  client: RpcTestClient;
  /** setupNetworks that must succeed; then running config == capabilities; returns the caps */
  setup(networks: Dict, bondings?: Dict, options?: Dict): Promise<Dict>;
  /** setupNetworks that must fail with `code` (message containing `word`), changing nothing */
  refused(code: number, word: string, networks: Dict, bondings?: Dict): Promise<void>;
  caps(): Promise<Dict>;
  running(): HostConfig;
  /** removes every network, then every bond, of the running config */
  clear(): Promise<void>;
  stop(): Promise<void>;
}

export const noCheck = { connectivityCheck: false };

/**
 * The outer test built dist/ on the host just before the boot (ensureBuilt). A src file that
 * someone edits meanwhile must not make ensureBuilt run tsc here, under TCG (minutes): the
 * build stamp is marked fresh, in this guest's overlay only (the host's file is untouched).
 */
export async function useHostBuild(): Promise<void> {
  if (process.env.HOSTNETD_VM !== '1') throw new Error('inner VM tests run only inside the VM tier (HOSTNETD_VM=1)');
  if (!existsSync(DAEMON_MAIN)) throw new Error(`${DAEMON_MAIN} is missing: the outer test builds dist/ before booting`);
  const future = new Date(Date.now() + 365 * 24 * 3600_000);
  await utimes(join(REPO_ROOT, 'dist', '.build-stamp'), future, future);
}

export async function startVmHost(opts: StartDaemonOptions = {}): Promise<VmHost> {
  await useHostBuild();
  const daemon = await startTestDaemon({ args: ['--fake-nics', 'veth_*'], ...opts });
  const client = await RpcTestClient.connect(daemon.target);
  const caps = () => client.call<Dict>('Host.getNetworkCapabilities');
  const running = () => readRunning(daemon.stateDir);
  const host: VmHost = {
    daemon,
    client,
    caps,
    running,
    async setup(networks, bondings = {}, options = noCheck) {
      expect(await client.call('Host.setupNetworks', { networks, bondings, options })).toEqual({ code: 0, message: 'Done' });
      const c = await caps();
      expectConfigMatchesCaps(running(), c);
      return c;
    },
    async refused(code, word, networks, bondings = {}) {
      const before = await kernelSummary();
      const runningBefore = running();
      const err = await client.call('Host.setupNetworks', { networks, bondings, options: noCheck }).then(
        () => { throw new Error(`expected error ${code}, the request succeeded`); },
        (e: unknown) => e as RpcCallError,
      );
      expect(err).toBeInstanceOf(RpcCallError);
      expect(err.code, err.message).toBe(code);
      expect(err.message).toContain(word);
      expect(await kernelSummary()).toEqual(before);
      expect(running()).toEqual(runningBefore);
    },
    async clear() {
      const r = running();
      const nets = Object.fromEntries(Object.keys(r.networks).map((n) => [n, { remove: true }]));
      const bonds = Object.fromEntries(Object.keys(r.bonds).map((b) => [b, { remove: true }]));
      if (Object.keys(nets).length) await host.setup(nets);
      if (Object.keys(bonds).length) await host.setup({}, bonds);
      expect(running()).toEqual({ networks: {}, bonds: {} });
    },
    async stop() {
      await client.close().catch(() => undefined);
      await daemon.cleanup();
    },
  };
  return host;
}

/**
 * VDSM's invariant, networks (test/helpers/state.ts) and bonds: every configured bond is
 * reported with its slaves, its mode and every option the config sets (as the numeric string
 * VDSM prints), and its hwaddr when the config sets one.
 */
export function expectConfigMatchesCaps(running: HostConfig, caps: Dict): void {
  expectRunningMatchesCaps(running, caps);
  for (const bond of Object.values(running.bonds)) {
    const c = caps.bondings[bond.name];
    expect(c, `bond ${bond.name} in capabilities`).toBeDefined();
    expect([...c.slaves].sort(), `${bond.name}.slaves`).toEqual([...bond.nics].sort());
    const mode = bondModeNumber(bond.options.mode!);
    expect(c.opts.mode, `${bond.name}.opts.mode`).toBe(mode);
    for (const [k, v] of Object.entries(bond.options)) {
      if (k === 'mode') continue;
      const want = numericBondValue(k, v);
      // an option set to its default is not reported, as VDSM does
      if (want === defaultBondValue(k, mode)) expect(c.opts[k], `${bond.name}.opts.${k}`).toBeUndefined();
      else expect(c.opts[k], `${bond.name}.opts.${k}`).toBe(want);
    }
    if (bond.hwaddr) expect(c.hwaddr, `${bond.name}.hwaddr`).toBe(bond.hwaddr);
  }
}

// ---- the kernel, read directly (not through the daemon) ----------------------------------------

export async function ip(...args: string[]): Promise<string> {
  return (await execa('ip', args)).stdout;
}

export async function link(name: string): Promise<Dict | undefined> {
  const r = await execa('ip', ['-j', '-d', 'link', 'show', 'dev', name], { reject: false });
  if (r.exitCode !== 0) return undefined;
  return (JSON.parse(r.stdout) as Dict[])[0];
}

export async function links(): Promise<Record<string, Dict>> {
  const all = JSON.parse(await ip('-j', '-d', 'link', 'show')) as Dict[];
  return Object.fromEntries(all.map((l) => [l.ifname as string, l]));
}

/** Names of the vlan devices present. */
export async function vlanDevices(): Promise<string[]> {
  return Object.values(await links()).filter((l) => l.linkinfo?.info_kind === 'vlan').map((l) => l.ifname as string).sort();
}

export async function sysfs(dev: string, attr: string): Promise<string> {
  return (await readFile(`/sys/class/net/${dev}/${attr}`, 'utf8')).trim();
}

/** What "nothing changed" means for a refused request: devices, masters, MTUs, up/down, addresses. */
export async function kernelSummary(): Promise<Dict> {
  const all = await links();
  const out: Dict = {};
  for (const l of Object.values(all)) {
    out[l.ifname] = { kind: l.linkinfo?.info_kind ?? 'device', mtu: l.mtu, master: l.master ?? null, up: (l.flags as string[]).includes('UP'), ifindex: l.ifindex };
  }
  const addrs = JSON.parse(await ip('-j', 'addr', 'show')) as Dict[];
  out['@addresses'] = addrs.flatMap((a) => (a.addr_info as Dict[]).filter((x) => x.scope === 'global').map((x) => `${a.ifname} ${x.local}/${x.prefixlen}`)).sort();
  return out;
}

/**
 * Watches one device for a link flap while `fn` runs: `ip monitor link` sees every RTM_NEWLINK
 * and RTM_DELLINK; the device's ifindex and carrier_changes counter must stay the same.
 */
export async function expectNoFlap(dev: string, fn: () => Promise<void>): Promise<void> {
  // a bond's carrier comes up one miimon interval after its slaves': wait for it, then measure
  await until(`${dev} up`, async () => ((await sysfs(dev, 'operstate')) === 'up' ? true : undefined));
  const ifindex = await sysfs(dev, 'ifindex');
  const carrierChanges = await sysfs(dev, 'carrier_changes');
  const mon = execa('ip', ['-o', 'monitor', 'link'], { reject: false, buffer: true });
  // ip monitor subscribes before printing anything; give it a moment to be listening
  await new Promise((r) => setTimeout(r, 300));
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    mon.kill('SIGTERM');
  }
  const events = String((await mon).stdout).split('\n').filter((l) => new RegExp(`^(Deleted )?\\d+: ${dev}[:@]`).test(l));
  for (const e of events) {
    expect(e, `${dev} event during the change`).not.toMatch(/^Deleted|NO-CARRIER|state DOWN|LOWERLAYERDOWN/);
  }
  expect(await sysfs(dev, 'ifindex'), `${dev} was recreated`).toBe(ifindex);
  expect(await sysfs(dev, 'carrier_changes'), `${dev} carrier changed`).toBe(carrierChanges);
  expect(await sysfs(dev, 'operstate')).toBe('up');
}

export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The host's networking as a boot-independent value (no ifindex, no counters, no MACs):
 * devices with kind, master, MTU, up, vlan id/base, bond options as capabilities print them;
 * global addresses; main-table default routes. Two boots with the same config compare equal.
 */
export async function networkingState(): Promise<Dict> {
  const out: Dict = {};
  for (const l of Object.values(await links())) {
    if (l.ifname === 'lo') continue;
    const info = l.linkinfo ?? {};
    out[l.ifname] = {
      kind: info.info_kind ?? 'device', master: l.master ?? null, mtu: l.mtu, up: (l.flags as string[]).includes('UP'),
      ...(info.info_kind === 'vlan' ? { vlan: info.info_data.id, base: l.link } : {}),
      ...(info.info_kind === 'bond' ? { bond: bondCapsOpts(parseBondInfo(info.info_data)) } : {}),
      ...(info.info_kind === 'bridge' ? { stp: info.info_data.stp_state } : {}),
    };
  }
  const addrs = JSON.parse(await ip('-j', 'addr', 'show')) as Dict[];
  out['@addresses'] = addrs.flatMap((a) => (a.addr_info as Dict[]).filter((x) => x.scope === 'global').map((x) => `${a.ifname} ${x.local}/${x.prefixlen}`)).sort();
  const routes = [...JSON.parse(await ip('-j', '-4', 'route', 'show', 'default')), ...JSON.parse(await ip('-j', '-6', 'route', 'show', 'default'))] as Dict[];
  out['@default'] = routes.map((r) => `${r.gateway} ${r.dev}`).sort();
  return out;
}
