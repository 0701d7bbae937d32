/**
 * The method table: verb name → its parameters in documented order and its handler.
 * bindParams turns whatever the client sent (nothing, a named object or a positional array)
 * into one named object, or throws -32602. Only the top-level JSON shape is checked here;
 * the values' meaning is the verb's business (VDSM's codes 21..40).
 */
import { ErrorCode, HostnetError } from '../errors.js';
import type { RequestContext } from '../model/context.js';
import { isPlainObject } from '../model/dict.js';

export interface ParamSpec {
  name: string;
  /** may be left out; then `fallback()` is used */
  optional?: boolean;
  fallback?: () => unknown;
  /** why the value has the wrong JSON shape, or null when it is fine */
  shape?: (value: unknown) => string | null;
}

export interface MethodSpec {
  params: readonly ParamSpec[];
  handler: (params: Record<string, unknown>, ctx: RequestContext) => Promise<unknown> | unknown;
  /**
   * Milliseconds after which the client gets an error instead of waiting on; null: no limit
   * here, because the verb bounds itself (setupNetworks waits up to its connectivityTimeout,
   * and answering early would hide the outcome of a change that is still running).
   */
  timeoutMs?: number | null;
}

export type MethodTable = Record<string, MethodSpec>;

const invalidParams = (method: string, why: string) =>
  new HostnetError(ErrorCode.INVALID_PARAMS, `Invalid params for ${method}: ${why}`);


/** Shape check: a JSON object. */
export const anObject = (v: unknown): string | null => (isPlainObject(v) ? null : 'must be a JSON object');

/** Shape check: a JSON object whose every value is a JSON object ({name: attrs}). */
export const anObjectOfObjects = (v: unknown): string | null => {
  if (!isPlainObject(v)) return 'must be a JSON object';
  for (const [key, entry] of Object.entries(v)) {
    if (!isPlainObject(entry)) return `entry ${JSON.stringify(key)} must be a JSON object`;
  }
  return null;
};

/** Named params for the handler; throws -32602 when the shape is wrong. */
export function bindParams(
  method: string,
  specs: readonly ParamSpec[],
  raw: Record<string, unknown> | unknown[] | undefined,
): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  if (Array.isArray(raw)) {
    if (raw.length > specs.length) {
      throw invalidParams(method, `takes at most ${specs.length} positional params, got ${raw.length}`);
    }
    raw.forEach((value, i) => {
      given[specs[i]!.name] = value;
    });
  } else if (raw !== undefined) {
    for (const key of Object.keys(raw)) {
      if (!specs.some((s) => s.name === key)) {
        const known = specs.length ? `expected ${specs.map((s) => s.name).join(', ')}` : 'it takes none';
        throw invalidParams(method, `unknown param ${JSON.stringify(key)} (${known})`);
      }
    }
    Object.assign(given, raw);
  }
  const bound: Record<string, unknown> = {};
  for (const spec of specs) {
    // a positional null stands for a left-out param (clients pad arrays that way)
    const value = given[spec.name];
    if (value === undefined || (value === null && spec.optional)) {
      if (!spec.optional) throw invalidParams(method, `missing param ${JSON.stringify(spec.name)}`);
      bound[spec.name] = spec.fallback?.();
      continue;
    }
    const problem = spec.shape?.(value);
    if (problem) throw invalidParams(method, `${spec.name} ${problem}`);
    bound[spec.name] = value;
  }
  return bound;
}
