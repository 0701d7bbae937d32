/**
 * What one rtnetlink message changes, as far as a plan can tell. The kernel view (view.ts) keeps
 * two versions: any change renders a new state, but only a change of what a config sets moves
 * its config stamp: devices and their kind, name, master, MTU, MAC, up or down, bridge, bond and
 * VLAN settings, addresses, routes, rules. The kernel's running state does not: operstate and
 * carrier, promiscuity, a bridge's STP timers and root, a port's flags and STP state (the port
 * agent's, read from every state), the FDB, IPv6 link-local addresses and their fe80::/64 routes.
 * Planning reads none of those (plan/diff.ts, plan/desired.ts, validate/topology.ts), so a
 * config planned empty against one stamp is empty against every state with that stamp
 * (apply/transaction.ts skips planning it again). Whatever is not known to be running state
 * counts as config.
 *
 * Classified before the message is applied: a link's change is told from the link as the tables
 * have it.
 */
import type { BridgeLinkMsg, BridgeMsg, LinkMsg, RtnlMsg } from './netlink.js';
import type { KernelTables } from './tables.js';
import { loadAddon } from './addon.js';

/** 'none': the message says what the tables already have */
export type KernelChange = 'none' | 'state' | 'config';

export function kernelChange(m: RtnlMsg, tables: KernelTables): KernelChange {
  switch (m.t) {
    case 'link':
      return m.del ? 'config' : linkChange(tables.links.get(m.ifindex), m);
    case 'brlink':
      return samePort(tables.links.get(m.ifindex)?.bridgePort, m) ? 'none' : 'state';
    case 'addr':
      // the kernel's own: link-local (an IPv6 device gets one when it comes up), host scope
      return m.scope === 'link' || m.scope === 'host' || (m.family === 'inet6' && m.local?.startsWith('fe80:') === true) ? 'state' : 'config';
    case 'route':
      // the link-local prefix route the kernel gives every IPv6 device (a table of hostnetd's
      // could hold one for a network with a link-local address); cached clones are no routes
      return m.cloned || (m.family === 'inet6' && m.dst === 'fe80::/64' && m.table === 'main' && m.protocol === 'kernel') ? 'state' : 'config';
    case 'fdb':
      return 'state';
    default:
      return 'config';
  }
}

/**
 * What a difference in each field of a link message is ('none': not compared: the message's own
 * bookkeeping, or counters the view never reads). A field added to LinkMsg must be named here
 * (the compiler checks), and config-change.test.ts checks linkChange() against this table.
 */
export const LINK_FIELDS: Readonly<Record<keyof LinkMsg, KernelChange>> = {
  t: 'none', seq: 'none', mine: 'none', replace: 'none', del: 'config', ifindex: 'none', stats: 'none',
  name: 'config', kind: 'config', mtu: 'config', address: 'config', up: 'config', masterIndex: 'config',
  linkIndex: 'config', slaveKind: 'config', parentBus: 'config', vlan: 'config', bond: 'config', bondSlave: 'config',
  // its settings are config, its STP timers and root running state (sameBridgeConfig)
  bridge: 'config',
  operstate: 'state', promiscuity: 'state', bridgePort: 'state',
};

function linkChange(had: LinkMsg | undefined, m: LinkMsg): KernelChange {
  if (had === undefined) return 'config';
  if (had.name !== m.name || had.kind !== m.kind || had.mtu !== m.mtu || had.address !== m.address || had.up !== m.up
    || had.masterIndex !== m.masterIndex || had.linkIndex !== m.linkIndex || had.slaveKind !== m.slaveKind
    || had.parentBus !== m.parentBus || had.vlan?.id !== m.vlan?.id || had.vlan?.protocol !== m.vlan?.protocol
    || !sameJson(had.bond, m.bond) || !sameJson(had.bondSlave, m.bondSlave) || !sameBridgeConfig(had.bridge, m.bridge)) return 'config';
  const same = had.operstate === m.operstate && had.promiscuity === m.promiscuity
    && had.bridge?.optValues === m.bridge?.optValues && samePort(had.bridgePort, m);
  return same ? 'none' : 'state';
}

/** bonds are few (and their options nested): compared whole */
function sameJson(a: unknown, b: unknown): boolean {
  return a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));
}

function samePort(had: LinkMsg['bridgePort'], m: LinkMsg | BridgeLinkMsg): boolean {
  const p = m.bridgePort;
  if (had === undefined || p === undefined) return had === p;
  return had.isolated === p.isolated && had.learning === p.learning && had.flood === p.flood
    && had.mcastFlood === p.mcastFlood && had.state === p.state;
}

/** A bridge's options that are its running state (STP's timers, root and topology), not settings. */
const BRIDGE_STATE_OPTIONS: ReadonlySet<string> = new Set([
  'bridge_id', 'root_id', 'root_port', 'root_path_cost', 'topology_change', 'topology_change_detected',
  'hello_timer', 'tcn_timer', 'topology_change_timer', 'gc_timer',
]);

let settingAt: readonly boolean[] | undefined;

function sameBridgeConfig(a: BridgeMsg | undefined, b: BridgeMsg | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.stp !== b.stp || a.vlanFiltering !== b.vlanFiltering) return false;
  if (a.optValues === b.optValues) return true;
  settingAt ??= loadAddon().bridgeOptionNames().map((name) => !BRIDGE_STATE_OPTIONS.has(name));
  const x = a.optValues.split(',');
  const y = b.optValues.split(',');
  if (x.length !== y.length) return false;
  // an option past the names the addon gave counts as a setting
  return x.every((v, i) => v === y[i] || settingAt![i] === false);
}
