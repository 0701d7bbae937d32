// A DHCP client's record (<run-dir>/dhcp/<dev>.json) is what a later hostnetd signals, SIGKILLs
// and stops: only the shape it writes itself is taken.
import { describe, expect, it } from 'vitest';
import { parseRecord } from '../../../src/dhcp/clients.js';

const spec = { dev: 'dyn', network: 'dyn', v4: true, v6: false, defaultRoute: false };

describe('a DHCP client record', () => {
  it('takes what clients.ts writes: with a unit, without one, and the pid 0 written before the start', () => {
    expect(parseRecord({ pid: 298, spec, unit: 'hostnetd-dhcp-dyn.service' }, 'dyn')).toEqual({ pid: 298, spec, unit: 'hostnetd-dhcp-dyn.service' });
    expect(parseRecord({ pid: 4711, spec }, 'dyn')).toEqual({ pid: 4711, spec });
    expect(parseRecord({ pid: 0, spec, unit: 'hostnetd-dhcp-dyn.service' }, 'dyn').pid).toBe(0);
  });

  it('refuses a unit other than the device\'s own, naming the field', () => {
    expect(() => parseRecord({ pid: 298, spec, unit: 'hostnetd.service' }, 'dyn'))
      .toThrow('field unit: "hostnetd.service" is not hostnetd-dhcp-dyn.service');
    expect(() => parseRecord({ pid: 298, spec, unit: 'hostnetd-dhcp-other.service' }, 'dyn')).toThrow(/^field unit: /);
  });

  it('refuses a record of another device, a bad pid, a bad interface name and unknown keys', () => {
    expect(() => parseRecord({ pid: 1, spec }, 'other')).toThrow('field spec.dev: "dyn" is not the record\'s device other');
    expect(() => parseRecord({ pid: -1, spec }, 'dyn')).toThrow(/field pid: /);
    expect(() => parseRecord({ pid: 1.5, spec }, 'dyn')).toThrow(/field pid: /);
    expect(() => parseRecord({ pid: 1, spec: { ...spec, dev: 'a/b' } }, 'a/b')).toThrow(/field spec\.dev: not a valid interface name/);
    expect(() => parseRecord({ pid: 1, spec, cmd: 'x' }, 'dyn')).toThrow(/cmd/);
    expect(() => parseRecord({ pid: 1, spec: { ...spec, v4: 'yes' } }, 'dyn')).toThrow(/field spec\.v4: /);
    expect(() => parseRecord(null, 'dyn')).toThrow(/\(top level\)/);
  });
});
