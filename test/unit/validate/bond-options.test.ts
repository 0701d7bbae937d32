/** Bond option combinations the kernel would not keep as asked: refused before anything is touched (25). */
import { describe, expect, it } from 'vitest';
import { ErrorCode, HostnetError } from '../../../src/errors.js';
import { canonicalizeBond } from '../../../src/validate/request.js';

const codeOf = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (e) {
    return e instanceof HostnetError ? e.code : undefined;
  }
  return undefined;
};

describe('bond option combinations', () => {
  it.each([
    ['miimon=100 arp_interval=100', 'exclusive'],
    ['mode=4 updelay=50', 'multiple of miimon'],
    ['mode=1 updelay=200', 'needs miimon'],
    ['mode=1 miimon=150 downdelay=200', 'multiple of miimon'],
    ['mode=1 num_grat_arp=2 num_unsol_na=3', 'same setting'],
    ['mode=1 primary=eth7', 'not one of its nics'],
    [`mode=1 arp_interval=100 arp_ip_target=${Array.from({ length: 17 }, (_, i) => `192.0.2.${i + 1}`).join(',')}`, 'at most 16'],
  ])('%s → 25', (options, word) => {
    expect(codeOf(() => canonicalizeBond('bond0', { nics: ['eth0', 'eth1'], options }))).toBe(ErrorCode.BAD_BONDING);
    expect(() => canonicalizeBond('bond0', { nics: ['eth0', 'eth1'], options })).toThrow(word);
  });

  it.each([
    'mode=1 miimon=100 updelay=200 downdelay=300 primary=eth1',
    'mode=4 updelay=200',
    'mode=1 arp_interval=200 arp_ip_target=192.0.2.1,192.0.2.2',
    'mode=1 num_grat_arp=3 num_unsol_na=3',
    'mode=802.3ad miimon=0',
  ])('%s is accepted', (options) => {
    expect(codeOf(() => canonicalizeBond('bond0', { nics: ['eth0', 'eth1'], options }))).toBeUndefined();
  });
});
