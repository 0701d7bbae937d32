/** The one bond table: what validation accepts, what the batch sets and what capabilities report come from one place. */
import { describe, expect, it } from 'vitest';
import { BOND_MODES, BOND_OPTIONS, bondModeName, bondModeNumber, defaultBondValue, numericBondValue } from '../../../src/model/bond-options.js';
import { bondCapsOpts } from '../../../src/caps/bond-opts.js';

describe('the bond mode and option table', () => {
  it('numbers modes as the kernel and VDSM print them, one string type both ways', () => {
    expect(BOND_MODES.map(bondModeNumber)).toEqual(['0', '1', '2', '3', '4', '5', '6']);
    expect(bondModeNumber('7')).toBe('7');
    for (const m of BOND_MODES) expect(bondModeName(bondModeNumber(m))).toBe(m);
  });

  it('accepts every enum option by name and by number, and reports the name as its number', () => {
    const named = Object.entries(BOND_OPTIONS).filter(([, spec]) => spec.names !== undefined);
    expect(named.map(([k]) => k).sort()).toEqual(
      ['ad_select', 'arp_all_targets', 'arp_validate', 'fail_over_mac', 'lacp_rate', 'primary_reselect', 'xmit_hash_policy'],
    );
    for (const [option, spec] of named) {
      const names = Object.entries(spec.names!);
      names.forEach(([name, num], i) => {
        expect(num).toBe(String(i));
        expect(spec.value.test(name), `${option}=${name}`).toBe(true);
        expect(spec.value.test(num), `${option}=${num}`).toBe(true);
        expect(numericBondValue(option, name)).toBe(num);
      });
      expect(spec.value.test(String(names.length)), `${option}=${names.length}`).toBe(false);
    }
    expect(BOND_OPTIONS.xmit_hash_policy!.value.test('layer3x4')).toBe(false);
    expect(numericBondValue('lacp_active', 'off')).toBe('0');
    expect(numericBondValue('miimon', '100')).toBe('100');
    expect(numericBondValue('toString', 'x')).toBe('x');
  });

  it("knows a fresh bond's values, miimon by mode, options it only reports included", () => {
    expect(defaultBondValue('miimon', '4')).toBe('100');
    expect(defaultBondValue('miimon', '1')).toBe('0');
    expect(defaultBondValue('ad_actor_sys_prio', '4')).toBe('65535');
    expect(defaultBondValue('arp_missed_max', '1')).toBe('2');
    expect(defaultBondValue('no_such_option', '1')).toBeUndefined();
    expect('arp_missed_max' in BOND_OPTIONS).toBe(false);
    expect(bondCapsOpts({ mode: '802.3ad', opts: { miimon: '100', lacp_rate: 'fast', lacp_active: 'on', arp_missed_max: '3', bogus: '1' } }))
      .toEqual({ mode: '4', lacp_rate: '1', arp_missed_max: '3' });
  });
});
