import { describe, expect, it } from 'vitest';
import { sameJson, sortKeysDeep } from '../../../src/model/canonical.js';

const canonicalText = (v: unknown) => JSON.stringify(sortKeysDeep(v));

describe('sameJson', () => {
  it('says what comparing the canonical texts says, for random JSON values and near-copies of them', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const value = (depth: number): unknown => {
      const pick = rnd(depth > 3 ? 5 : 7);
      if (pick === 0) return null;
      if (pick === 1) return rnd(2) === 0;
      if (pick === 2) return rnd(3);
      if (pick === 3) return ['a', 'b', ''][rnd(3)];
      if (pick === 4) return undefined;
      if (pick === 5) return Array.from({ length: rnd(3) }, () => value(depth + 1) ?? null);
      const o: Record<string, unknown> = {};
      for (let i = rnd(4); i > 0; i--) o[['x', 'y', 'z', 'w'][rnd(4)]!] = value(depth + 1);
      return o;
    };
    let equal = 0;
    for (let i = 0; i < 20000; i++) {
      const a = value(0);
      const b = value(0);
      const same = canonicalText(a) === canonicalText(b);
      if (same) equal++;
      expect(sameJson(a, b)).toBe(same);
      expect(sameJson(a, a === undefined ? a : JSON.parse(JSON.stringify(a)))).toBe(true);
    }
    expect(equal).toBeGreaterThan(1000); // the generator makes equal pairs too, not only different ones
  });

  it('ignores key order and undefined members, and not array order, nulls or types', () => {
    expect(sameJson({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameJson({ a: 1, x: undefined }, { a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 1, x: undefined })).toBe(true);
    expect(sameJson({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameJson({ a: null }, { a: 1 })).toBe(false);
    expect(sameJson({ a: null }, {})).toBe(false);
    expect(sameJson({ a: '1' }, { a: 1 })).toBe(false);
    expect(sameJson([], {})).toBe(false);
    expect(sameJson({ a: 1 }, { b: 1 })).toBe(false);
  });

  it('treats a key named __proto__ as data', () => {
    const a = JSON.parse('{"__proto__": {"nic": "eth0"}}') as unknown;
    const b = JSON.parse('{"__proto__": {"nic": "eth1"}}') as unknown;
    expect(sameJson(a, b)).toBe(false);
    expect(sameJson(a, JSON.parse('{"__proto__": {"nic": "eth0"}}'))).toBe(true);
  });
});
