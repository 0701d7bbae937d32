/**
 * hostQos's fixed numbers and units, shared by the planner (plan/qos.ts) that writes the HFSC
 * classes and the capabilities (caps/qos.ts) that read them back.
 */
import type { HfscCurve } from './kernel-state.js';
import type { QosCurve } from './types.js';

/** VDSM's handles: root qdisc 1389: (0x1389 = 5001), default class 1388 */
export const QOS_ROOT = '1389:';
export const QOS_DEFAULT_MINOR = 0x1388;

/** VDSM's API numbers → the kernel's: ls as given (×8 bits = bytes), ul and rt bits → bytes */
export function kernelCurve(c: QosCurve, curve: 'ls' | 'ul' | 'rt'): HfscCurve {
  const k = (bits: number) => (curve === 'ls' ? bits : Math.floor(bits / 8));
  return { m1: c.m1 === undefined ? 0 : k(c.m1), d: c.d ?? 0, m2: k(c.m2) };
}

/** the kernel's numbers → VDSM's hostQos report ({m1, d, m2} in the API's units) */
export function apiCurve(c: HfscCurve, curve: 'ls' | 'ul' | 'rt'): { m1: number; d: number; m2: number } {
  const k = (bytes: number) => (curve === 'ls' ? bytes : bytes * 8);
  return { m1: k(c.m1), d: c.d, m2: k(c.m2) };
}
