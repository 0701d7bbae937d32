/**
 * What the running kernel can do, found without touching the managed namespace.
 *
 * - bonding, vlan: /sys/module/<mod> exists (loaded, or built in with parameters), or the
 *   module is listed for the running kernel in /lib/modules/<release>/modules.dep or
 *   modules.builtin, or /proc/config.gz sets its option to y/m. We never probe these by
 *   creating a device: loading `bonding` creates bond0 in the init namespace by itself.
 * - vlanFiltering: the kernel always dumps IFLA_BR_VLAN_FILTERING (0 when unsupported!), but
 *   puts IFLA_BR_VLAN_PROTOCOL and IFLA_BR_VLAN_DEFAULT_PVID in a bridge's dump only when
 *   built with CONFIG_BRIDGE_VLAN_FILTERING (net/bridge/br_netlink.c, br_fill_info). So a
 *   bridge's dump having vlan_protocol/default_pvid is the proof. With no bridge at hand we
 *   create one in a private network namespace (`unshare --net ip -batch -`), which dies with
 *   the process; failing that, /proc/config.gz.
 * - hfsc, fqCodel: the qdisc modules sch_hfsc and sch_fq_codel, found as bonding is (a qdisc
 *   module loads itself on first use, so listed is enough).
 * - portIsolation: IFLA_BRPORT_ISOLATED appeared in 4.18; a port dump with `isolated`
 *   proves it, otherwise the kernel release decides.
 */
import { readFile, access } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { release } from 'node:os';
import { execa } from 'execa';
import { parseJsonDump, parseLinks } from './parse.js';
import type { KernelFeatures, KernelLink, KernelState } from '../model/kernel-state.js';
import { getKey } from '../model/dict.js';

// ---- pure decisions -------------------------------------------------------------------

/** What is known about one optional module (bonding, 8021q). */
export interface ModuleEvidence {
  /** /sys/module/<name> exists */
  sysModule: boolean;
  /** modules.dep + modules.builtin text of the running kernel ('' if absent) */
  moduleLists: string;
  /** the CONFIG_ value from /proc/config.gz: 'y', 'm', 'n' or undefined if unknown */
  config?: string;
}

export function moduleAvailable(name: string, ev: ModuleEvidence): boolean {
  if (ev.sysModule) return true;
  if (listsModule(ev.moduleLists, name)) return true;
  return ev.config === 'y' || ev.config === 'm';
}

/** modules.dep lines start "kernel/drivers/net/bonding/bonding.ko.xz:", builtin lines are paths */
export function listsModule(lists: string, name: string): boolean {
  const re = new RegExp(`(^|/)${escapeRe(name)}\\.ko(\\.[a-z]+)?(:|$)`, 'm');
  return re.test(lists);
}

/** the value of CONFIG_<key> in a kernel config text: 'y', 'm', 'n' (not set) or undefined */
export function configValue(config: string | undefined, key: string): string | undefined {
  if (config === undefined) return undefined;
  const m = new RegExp(`^CONFIG_${key}=(\\w+)`, 'm').exec(config);
  if (m) return m[1];
  if (new RegExp(`^# CONFIG_${key} is not set`, 'm').test(config)) return 'n';
  return undefined;
}

/** a bridge's parsed options prove vlan_filtering support (see the module comment) */
export function bridgeShowsVlanFiltering(bridge: KernelLink): boolean {
  const opts = bridge.bridge?.opts ?? {};
  return 'vlan_protocol' in opts || 'default_pvid' in opts;
}

/** undefined when no bridge is in the state: the state cannot tell */
export function vlanFilteringFromState(state: KernelState | undefined): boolean | undefined {
  if (state === undefined) return undefined;
  for (const name in state.links) {
    const link = getKey(state.links, name);
    if (link?.kind === 'bridge') return bridgeShowsVlanFiltering(link);
  }
  return undefined;
}

export function portIsolationFrom(kernelRelease: string, state: KernelState | undefined): boolean {
  if (state !== undefined) {
    // the parsed port has isolated=false both when unsupported and when off; only true proves it
    for (const name in state.links) if (state.links[name]?.bridgePort?.isolated) return true;
  }
  return releaseAtLeast(kernelRelease, 4, 18);
}

/** "6.18.44-fc-v595" >= 4.18 */
export function releaseAtLeast(kernelRelease: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

// ---- the shell ------------------------------------------------------------------------

export interface DetectOptions {
  /** a snapshot of the managed namespace, if one is at hand: its bridges are evidence */
  state?: KernelState;
  /** for tests: where /sys, /lib/modules and /proc live */
  root?: string;
  /** for tests: the kernel release */
  kernelRelease?: string;
}

export async function detectKernelFeatures(opts: DetectOptions = {}): Promise<KernelFeatures> {
  const root = opts.root ?? '';
  const rel = opts.kernelRelease ?? release();
  const [config, lists] = await Promise.all([
    readConfigGz(`${root}/proc/config.gz`),
    readModuleLists(`${root}/lib/modules/${rel}`),
  ]);
  const [bondSys, vlanSys, hfscSys, fqCodelSys] = await Promise.all([
    exists(`${root}/sys/module/bonding`),
    exists(`${root}/sys/module/8021q`),
    exists(`${root}/sys/module/sch_hfsc`),
    exists(`${root}/sys/module/sch_fq_codel`),
  ]);
  const hfsc = moduleAvailable('sch_hfsc', { sysModule: hfscSys, moduleLists: lists, config: configValue(config, 'NET_SCH_HFSC') });
  const fqCodel = moduleAvailable('sch_fq_codel', { sysModule: fqCodelSys, moduleLists: lists, config: configValue(config, 'NET_SCH_FQ_CODEL') });
  const bonding = moduleAvailable('bonding', {
    sysModule: bondSys, moduleLists: lists, config: configValue(config, 'BONDING'),
  });
  const vlan = moduleAvailable('8021q', {
    sysModule: vlanSys, moduleLists: lists, config: configValue(config, 'VLAN_8021Q'),
  });
  let vlanFiltering = vlanFilteringFromState(opts.state);
  if (vlanFiltering === undefined) vlanFiltering = await probeVlanFilteringPrivately();
  if (vlanFiltering === undefined) vlanFiltering = configValue(config, 'BRIDGE_VLAN_FILTERING') === 'y';
  return { bonding, vlan, vlanFiltering, portIsolation: portIsolationFrom(rel, opts.state), hfsc, fqCodel };
}

const PROBE_BRIDGE = 'hnprobe0';

/** Create a bridge in a namespace of our own (gone when ip exits) and read its dump. */
export async function probeVlanFilteringPrivately(): Promise<boolean | undefined> {
  const r = await execa('unshare', ['--net', 'ip', '-j', '-d', '-batch', '-'], {
    input: `link add ${PROBE_BRIDGE} type bridge\nlink show dev ${PROBE_BRIDGE}\n`,
    reject: false,
    stripFinalNewline: true,
    timeout: 5000,
  });
  if (r.failed) return undefined;
  try {
    const link = parseLinks(parseJsonDump(String(r.stdout)))[PROBE_BRIDGE];
    return link === undefined ? undefined : bridgeShowsVlanFiltering(link);
  } catch {
    return undefined;
  }
}

async function readConfigGz(path: string): Promise<string | undefined> {
  try {
    return gunzipSync(await readFile(path)).toString('utf8');
  } catch {
    return undefined;
  }
}

async function readModuleLists(dir: string): Promise<string> {
  const texts = await Promise.all(['modules.dep', 'modules.builtin'].map(
    (f) => readFile(`${dir}/${f}`, 'utf8').catch(() => ''),
  ));
  return texts.join('\n');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
