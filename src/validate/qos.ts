/**
 * hostQos as VDSM takes it: {out: {ls, ul, rt}}, each curve {m1, d, m2} (rates in bits per
 * second, d in microseconds). Zeros are dropped first, as VDSM's kernelconfig does, so
 * {m1: 0, d: 0, m2: X} is {m2: X}. VDSM itself checks nothing more (the engine does); what HFSC
 * and VDSM's own layout need is refused here with 21, naming the field:
 * - ls is required: HFSC refuses ul without ls, and the device's default class takes its
 *   share from the networks' ls (VDSM's configurator fails on a VLAN network without one);
 * - m2 is required in every curve; m1 and d go together;
 * - rt.m2 may not exceed ul.m2 (a guarantee above the cap cannot be kept);
 * - the kernel keeps rates as u32 bytes per second; ls is sent ×8 (VDSM's rounding trick).
 * Pure.
 */
import { badParams } from '../errors.js';
import type { HostQos, QosCurve } from '../model/types.js';

const U32 = 0xffffffff;
const CURVES = ['ls', 'ul', 'rt'] as const;
type CurveName = (typeof CURVES)[number];

/** undefined: no QoS ({} and {out: {}} mean none, as in VDSM) */
export function checkHostQos(v: unknown, where: string, on: { device?: string; vlan?: number }): HostQos | undefined {
  const field = `${where}: hostQos`;
  if (!isPlainObject(v)) throw badParams(`${field} must be an object {out: {ls, ul, rt}}`);
  for (const key of Object.keys(v)) if (key !== 'out') throw badParams(`${field}: unknown key '${key}' (only 'out' is supported)`);
  if (v.out === undefined) return undefined;
  if (!isPlainObject(v.out)) throw badParams(`${field}.out must be an object {ls, ul, rt}`);
  const out = v.out;
  for (const key of Object.keys(out)) {
    if (!(CURVES as readonly string[]).includes(key)) throw badParams(`${field}.out: unknown curve '${key}' (ls, ul or rt)`);
  }
  if (Object.keys(out).length === 0) return undefined;
  const curves: Partial<Record<CurveName, QosCurve>> = {};
  for (const name of CURVES) {
    if (out[name] !== undefined) curves[name] = checkCurve(out[name], `${field}.out.${name}`, name);
  }
  if (!curves.ls) throw badParams(`${field}.out.ls is required: HFSC needs a link-share curve for the network's class and the device's default class`);
  if (curves.rt && curves.ul && curves.rt.m2 > curves.ul.m2) {
    throw badParams(`${field}.out.rt.m2 (${curves.rt.m2}) exceeds ul.m2 (${curves.ul.m2}): the real-time guarantee cannot be above the upper limit`);
  }
  if (on.device === undefined) throw badParams(`${field} needs 'nic' or 'bonding': the curves live on the southbound device`);
  // the class id is 1389:<vlan in hex>; 1389:0 would be the root qdisc itself
  if (on.vlan === 0) throw badParams(`${field} is not supported on vlan 0 (its class id would be the root qdisc's)`);
  const result: HostQos = { out: { ls: curves.ls } };
  if (curves.ul) result.out.ul = curves.ul;
  if (curves.rt) result.out.rt = curves.rt;
  return result;
}

function checkCurve(v: unknown, field: string, name: CurveName): QosCurve {
  if (!isPlainObject(v)) throw badParams(`${field} must be an object {m1, d, m2}`);
  for (const key of Object.keys(v)) if (!['m1', 'd', 'm2'].includes(key)) throw badParams(`${field}: unknown key '${key}' (m1, d or m2)`);
  // ls is a share sent as bits ×8; ul and rt are bits per second the kernel keeps as bytes
  const rateMax = name === 'ls' ? U32 : 8 * U32;
  const rateMin = name === 'ls' ? 1 : 8;
  const num = (key: 'm1' | 'd' | 'm2', max: number, min: number): number | undefined => {
    const x = v[key];
    if (x === undefined) return undefined;
    const n = typeof x === 'number' && Number.isInteger(x) ? x : typeof x === 'string' && /^\d{1,12}$/.test(x) ? Number(x) : null;
    if (n === null || n < 0) throw badParams(`${field}.${key} must be a non-negative integer, got ${show(x)}`);
    if (n === 0) return undefined;
    if (n < min || n > max) throw badParams(`${field}.${key} must be from ${min} to ${max}, got ${n}`);
    return n;
  };
  const m1 = num('m1', rateMax, rateMin);
  const d = num('d', U32, 1);
  const m2 = num('m2', rateMax, rateMin);
  if (m2 === undefined) throw badParams(`${field}.m2 is required (the long-term rate, above 0)`);
  if (m1 !== undefined && d === undefined) throw badParams(`${field}.m1 needs d (how long m1 applies, in microseconds)`);
  if (d !== undefined && m1 === undefined) throw badParams(`${field}.d needs m1 (the rate during d)`);
  return m1 !== undefined && d !== undefined ? { m1, d, m2 } : { m2 };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object' && v !== null) return 'an object';
  return String(v);
}
