/**
 * One declared schema per file format hostnetd reads from its state directory: running.json and
 * safe.json (ConfigFileSchema), journal.jsonl (JournalLineSchema). A file that does not match is
 * refused with 103, naming the file and the field (`readError`). --config has its own schema in
 * daemon/options.ts. From the run directory: a DHCP client's record (DhcpClientRecordSchema).
 */
import { z } from 'zod';
import type { KernelState } from '../model/kernel-state.js';
import { HostConfigSchema, ifnameSchema, nameTable } from '../model/schema.js';

export const CONFIG_FORMAT_VERSION = 1;

/** running.json and safe.json: {"version": 1, "networks": {...}, "bonds": {...}} */
export const ConfigFileSchema = z.strictObject({
  version: z.literal(CONFIG_FORMAT_VERSION),
  networks: HostConfigSchema.shape.networks,
  bonds: HostConfigSchema.shape.bonds,
});

// ---- the kernel snapshot a journal keeps (what rollback rebuilds the touched devices from) ----
// Loose objects: iproute2 grows fields, and rollback reads only the ones declared here.

const stringTable = nameTable(z.string(), z.string());

const KernelLinkSchema = z.looseObject({
  ifindex: z.int(),
  name: ifnameSchema,
  kind: z.string(),
  mtu: z.int().min(0),
  address: z.string(),
  up: z.boolean(),
  operstate: z.string(),
  master: ifnameSchema.optional(),
  link: z.string().optional(),
  slaveKind: z.string().optional(),
  bridge: z.looseObject({ stp: z.boolean(), vlanFiltering: z.boolean(), opts: stringTable }).optional(),
  bridgePort: z.looseObject({
    isolated: z.boolean(), learning: z.boolean(), flood: z.boolean(), mcastFlood: z.boolean(), state: z.string(),
  }).optional(),
  bond: z.looseObject({
    mode: z.string(),
    opts: stringTable,
    activeSlave: z.string().optional(),
    adInfo: z.looseObject({ aggregatorId: z.number().optional(), partnerMac: z.string().optional() }).optional(),
  }).optional(),
  bondSlave: z.looseObject({ state: z.string(), permHwaddr: z.string().optional(), adAggregatorId: z.number().optional() }).optional(),
  vlan: z.looseObject({ id: z.int().min(0).max(4095), protocol: z.string() }).optional(),
  parentBus: z.string().optional(),
  promiscuity: z.number(),
  stats: z.looseObject({
    rxBytes: z.number(), txBytes: z.number(), rxPackets: z.number(), txPackets: z.number(),
    rxErrors: z.number(), txErrors: z.number(), rxDropped: z.number(), txDropped: z.number(),
  }).optional(),
});

const family = z.enum(['inet', 'inet6']);

export const KernelStateSchema = z.looseObject({
  links: nameTable(ifnameSchema, KernelLinkSchema).superRefine((links, ctx) => {
    for (const [key, l] of Object.entries(links)) {
      if (l.name !== key) ctx.addIssue({ code: 'custom', message: `is stored under '${key}' but named '${l.name}'`, path: [key, 'name'] });
    }
  }),
  addresses: z.array(z.looseObject({
    ifname: z.string(), family, local: z.string(), prefixlen: z.int().min(0).max(128), scope: z.string(),
    dynamic: z.boolean(), tentative: z.boolean(),
  })),
  routes: z.array(z.looseObject({
    family, table: z.string(), dst: z.string(), gateway: z.string().optional(), dev: z.string().optional(),
    protocol: z.string().optional(), scope: z.string().optional(), metric: z.number().optional(), type: z.string(),
  })),
  rules: z.array(z.looseObject({
    family, priority: z.int().min(0).max(0xffffffff), table: z.string(), src: z.string(), dst: z.string(),
    action: z.string(), selectors: z.string(),
  })).optional(),
  fdb: z.array(z.looseObject({
    mac: z.string(), ifname: z.string(), master: z.string().optional(), vlan: z.number().optional(),
    state: z.string(), flags: z.array(z.string()),
  })),
  takenAt: z.number(),
});

// The schema's output must be usable as the KernelState the planner takes.
const _kernelStateFits = (s: z.output<typeof KernelStateSchema>): KernelState => s;
void _kernelStateFits;

const hfscCurveSchema = z.strictObject({ m1: z.int().min(0), d: z.int().min(0), m2: z.int().min(0) });
const tcHandleSchema = z.string().regex(/^([0-9a-f]{1,4}:[0-9a-f]{0,4}|root|ingress)$/, { error: 'not a tc handle' });

/** One device's traffic control before a change (the hostQos part of the kernel's state). */
export const DeviceTcSchema = z.strictObject({
  root: z.strictObject({ kind: z.string(), handle: tcHandleSchema, hfscDefault: z.int().min(0).optional() }).optional(),
  qdiscs: z.array(z.strictObject({ kind: z.string(), handle: tcHandleSchema, parent: tcHandleSchema })),
  classes: z.array(z.strictObject({
    handle: tcHandleSchema, parent: tcHandleSchema, kind: z.string(),
    rt: hfscCurveSchema.optional(), ls: hfscCurveSchema.optional(), ul: hfscCurveSchema.optional(),
  })),
  filters: z.array(z.strictObject({ prio: z.int().min(0), kind: z.string(), classid: tcHandleSchema.optional() })),
});

// ---- journal.jsonl ------------------------------------------------------------------------
// One JSON object a line, told apart by `type`. A new kind of record (e.g. a sysctl's old value,
// to restore after a crash) is one more schema in JOURNAL_LINE_SCHEMAS and one case where the
// journal is replayed (store/journal.ts).

export const JOURNAL_PHASES = ['applying', 'verifying', 'confirming', 'committing'] as const;
export type JournalPhase = (typeof JOURNAL_PHASES)[number];

/** The first line: the whole transaction, written atomically before anything changes. */
export const JournalBeginSchema = z.strictObject({
  type: z.literal('begin'),
  version: z.literal(1),
  id: z.string().min(1),
  /** ISO time */
  startedAt: z.string(),
  phase: z.enum(JOURNAL_PHASES),
  before: z.strictObject({
    config: HostConfigSchema,
    kernel: KernelStateSchema,
    /** IPv6 sysctls the change rewrites on devices that existed before it, with their old values */
    sysctls: z.array(z.strictObject({ dev: ifnameSchema, autoconf: z.string(), acceptRa: z.string() })).optional(),
    /** the resolver file the change rewrites and its old text (null: there was none) */
    resolvConf: z.strictObject({ path: z.string().min(1), text: z.string().nullable() }).optional(),
    /** the safe config, when the change was to make itself safe (commitOnSuccess) */
    safe: HostConfigSchema.optional(),
    /** traffic control of the devices whose hostQos the change manages */
    tc: nameTable(ifnameSchema, DeviceTcSchema).optional(),
  }),
  desired: HostConfigSchema,
  /** device names the transaction may create, change or delete */
  touched: z.array(ifnameSchema),
});

/** A later line: the transaction reached a phase. */
export const JournalPhaseSchema = z.strictObject({
  type: z.literal('phase'),
  phase: z.enum(JOURNAL_PHASES),
  at: z.string(),
});

export const JOURNAL_LINE_SCHEMAS = [JournalBeginSchema, JournalPhaseSchema] as const;
export const JournalLineSchema = z.discriminatedUnion('type', JOURNAL_LINE_SCHEMAS);

/**
 * Journals written before lines carried `type` (hostnetd 0.1.0): the entry has `version`, a
 * phase line has `phase` and `at`. Only a change interrupted across an upgrade has one.
 */
export function withLegacyType(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || 'type' in v) return v;
  if ('version' in v) return { type: 'begin', ...v };
  if ('phase' in v && 'at' in v) return { type: 'phase', ...v };
  return v;
}

// ---- <run-dir>/dhcp/<dev>.json ------------------------------------------------------------
// A DHCP client's record (dhcp/clients.ts): what a later hostnetd adopts, signals and stops.

export const DhcpClientRecordSchema = z.strictObject({
  /** 0: written just before the client was started, its pid not known yet */
  pid: z.int().min(0),
  spec: z.strictObject({ dev: ifnameSchema, network: z.string().min(1), v4: z.boolean(), v6: z.boolean(), defaultRoute: z.boolean() }),
  /** under systemd, the transient service it runs in */
  unit: z.string().optional(),
});

// ---- refusals ---------------------------------------------------------------------------

/** "networks.br0.mtu: Invalid input: expected number, received string" (the first issues). */
export function describeIssues(error: z.ZodError, max = 3): string {
  const parts = error.issues.slice(0, max).map((i) => {
    const where = i.path.length ? i.path.map(String).join('.') : '(top level)';
    return `field ${where}: ${i.message}`;
  });
  const more = error.issues.length > max ? ` (and ${error.issues.length - max} more)` : '';
  return parts.join('; ') + more;
}
