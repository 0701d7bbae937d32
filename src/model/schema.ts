/**
 * The one declaration of the model's shape (zod): the TypeScript types of model/types.ts are
 * inferred from it, and the state files (store/schema.ts) are checked against it when read.
 * What the request validator guarantees about a canonical Network or Bond is stated here again
 * as a schema, so a file edited by hand, truncated or written by a buggy build is refused with
 * the field named instead of reaching the planner.
 *
 * Tables keyed by names are read into null-prototype objects (model/dict.ts): zod's own
 * z.record drops a key named `__proto__`, which is a valid network name.
 */
import { z } from 'zod';
import { BOND_NAME_RE, IFNAME_MAX_BYTES, bridgeNameProblem, isValidIfname } from './names.js';
import { isIpv4, isIpv6 } from './ip.js';
import { BOND_MODES } from './bond-options.js';
import { BOND_OPTIONS } from './bond-options.js';
import { BRIDGE_OPTIONS } from './bridge-options.js';
import { dict, hasKey } from './dict.js';
import { isPlainObject } from './dict.js';
import { isCanonicalMac } from './mac.js';
import { MTU_MAX, MTU_MIN } from './request.js';

/**
 * The largest rate a curve may ask for: the kernel keeps rates as u32 bytes per second, and an
 * ls value is sent as bits (×8) so that it is kept whole (VDSM's _adapt_qos_options_link_share).
 */
export const QOS_RATE_MAX = 8 * 0xffffffff;


/**
 * A JSON object read as a name → value table with a null prototype. Each key is checked by
 * `key`, each value by `value`; an issue's path names the key (e.g. networks.br0.mtu).
 */
export function nameTable<K extends z.ZodType<string>, V extends z.ZodType>(key: K, value: V) {
  return z
    .preprocess((v) => (isPlainObject(v) ? new Map(Object.entries(v)) : v), z.map(key, value, { error: 'expected a JSON object' }))
    .transform((m) => dict<z.output<V>>(m as Map<string, z.output<V>>));
}

export const ifnameSchema = z.string().refine(isValidIfname, { error: 'not a valid interface name' });
export const networkNameSchema = z.string().check((ctx) => {
  const problem = bridgeNameProblem(ctx.value);
  if (problem) ctx.issues.push({ code: 'custom', message: `bad network name: ${problem}`, input: ctx.value });
});
export const bondNameSchema = z
  .string()
  .refine((s) => BOND_NAME_RE.test(s) && Buffer.byteLength(s) <= IFNAME_MAX_BYTES, { error: 'not a valid bond name (bond<word>, at most 15 bytes)' });
export const ipv4Schema = z.string().refine(isIpv4, { error: 'not an IPv4 address' });
export const ipv6Schema = z.string().refine(isIpv6, { error: 'not an IPv6 address' });
const ipv6CidrSchema = z.string().refine((s) => {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  return m !== null && isIpv6(m[1]) && Number(m[2]) <= 128;
}, { error: "not an IPv6 'address/prefix'" });

const bridgeOptionName = z.string().refine((k) => hasKey(BRIDGE_OPTIONS, k), { error: 'unknown bridge option' });
const bondOptionName = z.string().refine((k) => k === 'mode' || hasKey(BOND_OPTIONS, k), { error: 'unknown bond option' });

/**
 * One HFSC service curve as VDSM's hostQos spells it: m1 and m2 in bits per second (ls: a share,
 * in the same unit), d in microseconds. Zeros are dropped when canonicalized (VDSM's
 * _remove_zero_values_in_net_qos), so m1 and d are either both absent or m1 > 0.
 */
export const QosCurveSchema = z.strictObject({
  m1: z.int().min(1).max(QOS_RATE_MAX).optional(),
  d: z.int().min(1).max(0xffffffff).optional(),
  m2: z.int().min(1).max(QOS_RATE_MAX),
});

/** hostQos: outbound only (VDSM's HostQoSParams); ls is always there (see validate/qos.ts). */
export const HostQosSchema = z.strictObject({
  out: z.strictObject({ ls: QosCurveSchema, ul: QosCurveSchema.optional(), rt: QosCurveSchema.optional() }),
});

export const NetworkSchema = z.strictObject({
  name: networkNameSchema,
  bridged: z.boolean(),
  /** southbound device: at most one of nic / bonding */
  nic: ifnameSchema.optional(),
  bonding: bondNameSchema.optional(),
  vlan: z.int().min(0).max(4094).optional(),
  mtu: z.int().min(MTU_MIN).max(MTU_MAX),
  stp: z.boolean(),
  ipv4: z.strictObject({ address: ipv4Schema, prefix: z.int().min(1).max(32), gateway: ipv4Schema.optional() }).optional(),
  ipv6: z.strictObject({
    /** 'addr/prefix', canonical (VDSM accepts one; kept a list for the future) */
    addresses: z.array(ipv6CidrSchema),
    gateway: ipv6Schema.optional(),
    autoconf: z.boolean(),
  }),
  defaultRoute: z.boolean(),
  nameservers: z.array(z.string().refine((s) => isIpv4(s) || isIpv6(s), { error: 'not an IP address' })),
  /** custom.bridge_opts, parsed: sysfs option name -> value */
  bridgeOpts: nameTable(bridgeOptionName, z.string().regex(/^\d+$/, { error: 'not a number' })),
  portIsolation: z.boolean(),
  macTableManager: z.enum(['kernel', 'libvirt']),
  switch: z.literal('legacy'),
  /** 'dhcp': a DHCPv4 client runs on the network's IP device (no static ipv4 then) */
  bootproto: z.enum(['none', 'dhcp']),
  /** a DHCPv6 client runs on the network's IP device (router advertisements stay the kernel's: ipv6autoconf) */
  dhcpv6: z.boolean(),
  /** HFSC curves of the network's class on its nic or bond (VDSM's hostQos) */
  hostQos: HostQosSchema.optional(),
}).refine((n) => n.nic === undefined || n.bonding === undefined, { error: "'nic' and 'bonding' are exclusive", path: ['bonding'] })
  .refine((n) => n.hostQos === undefined || n.nic !== undefined || n.bonding !== undefined, { error: "'hostQos' needs a nic or bonding", path: ['hostQos'] });

export const BondSchema = z.strictObject({
  name: bondNameSchema,
  // an adopted bond may have no slaves left; a requested one has at least one (validate/request.ts)
  nics: z.array(ifnameSchema),
  /** option name -> value as the kernel's sysfs spells it; always contains mode (by name) */
  // a value may be empty (arp_ip_target '' clears the targets), never two words
  options: nameTable(bondOptionName, z.string().regex(/^[^\s=]*$/, { error: 'not a single word' }))
    .refine((o) => (BOND_MODES as readonly string[]).includes(o.mode ?? ''), { error: 'mode is missing or not a bond mode name' }),
  hwaddr: z.string().refine(isCanonicalMac, { error: 'not a lower-case MAC address' }).optional(),
});

/** Each entry is stored under its own name: a mismatch means the file was edited or is damaged. */
const keyedByName = <T extends { name: string }>(table: Record<string, T>, ctx: z.RefinementCtx) => {
  for (const [key, entry] of Object.entries(table)) {
    if (entry.name !== key) ctx.addIssue({ code: 'custom', message: `is stored under '${key}' but named '${entry.name}'`, path: [key, 'name'] });
  }
};

export const HostConfigSchema = z.strictObject({
  networks: nameTable(networkNameSchema, NetworkSchema).superRefine(keyedByName),
  bonds: nameTable(bondNameSchema, BondSchema).superRefine(keyedByName),
});
