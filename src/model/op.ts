/**
 * Plan types, in model/ because the kernel adapter renders the Op[] the planner makes.
 * The planner works in two pure steps:
 *   HostConfig ──desiredKernel()──▶ DesiredKernel ──diff(·, KernelState)──▶ Op[]
 * The same diff serves a rollback: a DesiredKernel taken from the snapshot before a change.
 * An empty Op[] after applying is the verification.
 */

/** What one managed device must look like. Fields left undefined are not managed. */
export interface DesiredLink {
  name: string;
  /** 'nic': must exist already, never created or deleted */
  kind: 'bridge' | 'vlan' | 'bond' | 'nic';
  mtu?: number;
  /** null: no master */
  master?: string | null;
  up?: boolean;
  /** global addresses 'addr/prefix' (v4 and v6); undefined: leave addresses alone */
  addresses?: string[];
  bridge?: { stp: boolean; opts: Record<string, string> };
  vlan?: { base: string; id: number };
  bond?: { options: Record<string, string>; hwaddr?: string };
  /**
   * MAC of a bridge or vlan device: only a rollback sets it, so that a device it re-creates (or
   * whose MAC followed a port that left) gets its old MAC back, and with it its IPv6 link-local
   * address and the neighbours' entries upstream. Bonds carry theirs in `bond.hwaddr`.
   */
  hwaddr?: string;
}

export interface DesiredRoute {
  gateway: string;
  dev: string;
}

/** A route in one of the tables hostnetd owns (source routing, see source-routes.ts). */
export interface DesiredTableRoute {
  family: 'inet' | 'inet6';
  table: number;
  /** 'default' or a prefix */
  dst: string;
  gateway?: string;
  dev: string;
}

/** A rule that looks one of hostnetd's tables up; `dev` is the device owning the table. */
export interface DesiredRule {
  family: 'inet' | 'inet6';
  priority: number;
  table: number;
  /** 'addr/len' or 'all' */
  src: string;
  dst: string;
  dev: string;
}

export interface SourceRouting {
  /** devices whose tables (and the rules looking them up) this plan owns */
  owners: string[];
  routes: DesiredTableRoute[];
  rules: DesiredRule[];
}

export interface DesiredKernel {
  links: Record<string, DesiredLink>;
  /** virtual devices (bridge, vlan, bond) to delete if they exist */
  remove: string[];
  /** default route per family: a route to hold, or null for none on the managed devices */
  defaultRoutes: { inet: DesiredRoute | null; inet6: DesiredRoute | null };
  /** devices whose default routes this plan owns (a default route elsewhere is left alone unless replaced) */
  routeDevices: string[];
  /** devices of a dynamic defaultRoute network: their learned (DHCP or RA) default routes stay */
  dynamicRouteDevices?: string[];
  /** per-network tables and rules; undefined: leave every table but main alone */
  sourceRouting?: SourceRouting;
}

export type Op =
  /** `mtu`: the MTU it is created with (see diff.ts: one off the MTU it gets next) */
  | { op: 'add-bridge'; dev: string; stp: boolean; opts: Record<string, string>; mtu?: number }
  | { op: 'set-bridge'; dev: string; stp: boolean; opts: Record<string, string> }
  | { op: 'add-vlan'; dev: string; base: string; id: number; mtu: number }
  | { op: 'add-bond'; dev: string; options: Record<string, string> }
  | { op: 'set-bond'; dev: string; options: Record<string, string> }
  | { op: 'del'; dev: string }
  | { op: 'master'; dev: string; master: string | null }
  | { op: 'mtu'; dev: string; mtu: number }
  | { op: 'hwaddr'; dev: string; hwaddr: string }
  /** with `mtu`: set in the same message, before the flags change */
  | { op: 'up'; dev: string; mtu?: number }
  | { op: 'down'; dev: string }
  | { op: 'addr-add'; dev: string; cidr: string; replace?: true }
  | { op: 'addr-del'; dev: string; cidr: string }
  | { op: 'route-replace'; family: 'inet' | 'inet6'; gateway: string; dev: string }
  | { op: 'route-del'; family: 'inet' | 'inet6'; gateway?: string; dev: string }
  | { op: 'table-route-replace'; family: 'inet' | 'inet6'; table: number; dst: string; gateway?: string; dev: string }
  | { op: 'table-route-del'; family: 'inet' | 'inet6'; table: number; dst: string; gateway?: string; dev: string }
  | { op: 'rule-add'; family: 'inet' | 'inet6'; priority: number; table: number; src: string; dst: string; dev: string }
  | { op: 'rule-del'; family: 'inet' | 'inet6'; priority: number; table: number; src: string; dst: string; dev: string };
