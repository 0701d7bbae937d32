/** vdsm-no-mac-spoofing: VDSM's definition, and telling it apart from anything else libvirt may hold. */
import { describe, expect, it } from 'vitest';
import { filterXml, readFilter } from '../../../src/libvirt/nwfilter.js';

const UUID = '0c9d7d63-9c4f-4d1e-8b9b-6d1f0e6e2b11';

describe('vdsm-no-mac-spoofing', () => {
  it("is VDSM's filter: chain root, no-mac-spoofing then no-arp-mac-spoofing", () => {
    expect(filterXml()).toBe(`<filter name='vdsm-no-mac-spoofing' chain='root'>
  <filterref filter='no-mac-spoofing'/>
  <filterref filter='no-arp-mac-spoofing'/>
</filter>
`);
    expect(filterXml(UUID)).toContain(`<uuid>${UUID}</uuid>`);
    expect(() => filterXml("x'/><rule")).toThrow(/not a UUID/);
  });

  it("reads libvirt's XML of it as the same, keeping its UUID", () => {
    const libvirts = `<filter name='vdsm-no-mac-spoofing' chain='root'>\n  <uuid>${UUID}</uuid>\n  <filterref filter='no-mac-spoofing'/>\n  <filterref filter='no-arp-mac-spoofing'/>\n</filter>\n`;
    expect(readFilter(libvirts)).toEqual({ uuid: UUID, same: true });
    expect(readFilter(filterXml())).toEqual({ same: true });
  });

  it.each([
    ['another chain', `<filter name='vdsm-no-mac-spoofing' chain='ipv4'><uuid>${UUID}</uuid><filterref filter='no-mac-spoofing'/><filterref filter='no-arp-mac-spoofing'/></filter>`],
    ['one reference missing', `<filter name='vdsm-no-mac-spoofing' chain='root'><uuid>${UUID}</uuid><filterref filter='no-mac-spoofing'/></filter>`],
    ['references swapped', `<filter name='vdsm-no-mac-spoofing' chain='root'><uuid>${UUID}</uuid><filterref filter='no-arp-mac-spoofing'/><filterref filter='no-mac-spoofing'/></filter>`],
    ['an extra rule', `<filter name='vdsm-no-mac-spoofing' chain='root'><uuid>${UUID}</uuid><filterref filter='no-mac-spoofing'/><filterref filter='no-arp-mac-spoofing'/><rule action='accept' direction='inout'><all/></rule></filter>`],
    ['a reference with parameters', `<filter name='vdsm-no-mac-spoofing' chain='root'><uuid>${UUID}</uuid><filterref filter='no-mac-spoofing'><parameter name='MAC' value='52:54:00:00:00:01'/></filterref><filterref filter='no-arp-mac-spoofing'/></filter>`],
  ])('%s is different, and its UUID is kept for the redefinition', (_what, xml) => {
    expect(readFilter(xml)).toEqual({ uuid: UUID, same: false });
  });
});
