import { describe, expect, it } from 'vitest';
import { HostnetError } from '../../../src/errors.js';
import { anObject, anObjectOfObjects, bindParams, type ParamSpec } from '../../../src/rpc/methods.js';

const setup: ParamSpec[] = [
  { name: 'networks', shape: anObjectOfObjects },
  { name: 'bondings', optional: true, fallback: () => ({}), shape: anObjectOfObjects },
  { name: 'options', optional: true, fallback: () => ({}), shape: anObject },
];

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof HostnetError ? e.code : 'other';
  }
  return 'none';
};

describe('bindParams', () => {
  it('accepts nothing, {} and [] for a verb without params', () => {
    expect(bindParams('Host.ping2', [], undefined)).toEqual({});
    expect(bindParams('Host.ping2', [], {})).toEqual({});
    expect(bindParams('Host.ping2', [], [])).toEqual({});
  });

  it('refuses params given to a verb that takes none', () => {
    expect(codeOf(() => bindParams('Host.ping2', [], { x: 1 }))).toBe(-32602);
    expect(codeOf(() => bindParams('Host.ping2', [], [1]))).toBe(-32602);
  });

  it('maps positional params in documented order and fills left-out ones', () => {
    expect(bindParams('Host.setupNetworks', setup, [{ n: {} }])).toEqual({ networks: { n: {} }, bondings: {}, options: {} });
    expect(bindParams('Host.setupNetworks', setup, [{}, null, { connectivityCheck: false }])).toEqual({
      networks: {},
      bondings: {},
      options: { connectivityCheck: false },
    });
  });

  it('names the problem in -32602 for wrong shapes', () => {
    const bad = (raw: Record<string, unknown> | unknown[] | undefined) => () => bindParams('Host.setupNetworks', setup, raw);
    expect(codeOf(bad({ networks: [] }))).toBe(-32602);
    expect(codeOf(bad({ networks: { n: 'x' } }))).toBe(-32602);
    expect(codeOf(bad({ networks: {}, options: 4 }))).toBe(-32602);
    expect(codeOf(bad({}))).toBe(-32602);
    expect(codeOf(bad({ networks: {}, extra: 1 }))).toBe(-32602);
    expect(codeOf(bad([{}, {}, {}, {}]))).toBe(-32602);
    expect(() => bad({ networks: { n: 'x' } })()).toThrow(/networks entry "n" must be a JSON object/);
  });
});
