import { describe, expect, it } from 'vitest';
import { parseResolvConf } from '../../../src/store/resolv-read.js';
import { countCores, parseOsRelease } from '../../../src/kernel/host-facts.js';

describe('parseResolvConf', () => {
  it('lists nameserver addresses in order, skipping comments and junk', () => {
    const text = '# generated\nsearch example.org\nnameserver 192.0.2.53\n  nameserver 2001:db8::53\n;nameserver 10.0.0.1\nnameserver not-an-ip\nnameserver fe80::1%eth0\n';
    expect(parseResolvConf(text)).toEqual(['192.0.2.53', '2001:db8::53', 'fe80::1%eth0']);
  });
});

describe('host facts', () => {
  it('counts distinct cores, falling back to threads', () => {
    const block = (phys: number, core: number) => `processor\t: x\nphysical id\t: ${phys}\ncore id\t\t: ${core}\n`;
    expect(countCores([block(0, 0), block(0, 0), block(0, 1), block(1, 0)].join('\n'), 4)).toBe(3);
    expect(countCores('processor : 0\n', 2)).toBe(2);
  });

  it('parses os-release', () => {
    expect(parseOsRelease('NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n')).toMatchObject({ NAME: 'Debian GNU/Linux', VERSION_ID: '12', ID: 'debian' });
  });
});
