import { describe, expect, it } from 'vitest';
import { isCanonicalMac, isMac, isMulticastMac } from '../../../src/model/mac.js';
import { parseMac } from '../../../src/libvirt/network-xml/dom.js';

describe('the one MAC syntax', () => {
  it('takes six pairs of hex digits in either case; the stored form is lower case', () => {
    expect(isMac('52:54:00:12:34:56')).toBe(true);
    expect(isMac('52:54:00:AB:cd:EF')).toBe(true);
    expect(isCanonicalMac('52:54:00:ab:cd:ef')).toBe(true);
    expect(isCanonicalMac('52:54:00:AB:cd:EF')).toBe(false);
    for (const bad of ['52:54:00:12:34', '52:54:00:12:34:56:78', '5:54:00:12:34:56', '52-54-00-12-34-56', '52:54:00:12:34:5g', '']) {
      expect(isMac(bad), bad).toBe(false);
    }
  });

  it('tells multicast and broadcast from unicast by the group bit', () => {
    expect(isMulticastMac('01:00:5e:00:00:01')).toBe(true);
    expect(isMulticastMac('ff:ff:ff:ff:ff:ff')).toBe(true);
    expect(isMulticastMac('33:33:00:00:00:01')).toBe(true);
    expect(isMulticastMac('52:54:00:12:34:56')).toBe(false);
  });

  it("reads libvirt's one-digit octets as the padded lower-case form, and nothing looser", () => {
    expect(parseMac('0:1:A:bb:c:D', 'mac')).toBe('00:01:0a:bb:0c:0d');
    expect(() => parseMac('0:1:a:bb:c', 'mac')).toThrow(/not a MAC address/);
    expect(() => parseMac('0::a:bb:c:d', 'mac')).toThrow(/not a MAC address/);
    expect(() => parseMac('012:1:a:bb:c:d', 'mac')).toThrow(/not a MAC address/);
  });
});
