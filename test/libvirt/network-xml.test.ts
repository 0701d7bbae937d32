import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isNetworkXmlError, parseNetworkXml, serializeNetworkXml, type NetworkXmlFailure } from '../../src/libvirt/network-xml.js';
import { ErrorCode, type HostnetError } from '../../src/errors.js';

const refused = (xml: string): HostnetError<NetworkXmlFailure> & { detail: NetworkXmlFailure } => {
  try {
    parseNetworkXml(xml);
  } catch (e) {
    if (isNetworkXmlError(e) && e.code === ErrorCode.LIBVIRT_FAILED) return e;
    throw e;
  }
  throw new Error('was accepted');
};

const net = (body: string, attrs = '') => `<network${attrs}><name>n</name>${body}</network>`;

describe('network XML rules libvirt enforces', () => {
  it.each([
    ['stp on a forward-mode-bridge network', net(`<forward mode='bridge'/><bridge name='br0' stp='off'/>`), 'bridge'],
    ['delay on a forward-mode-bridge network', net(`<forward mode='bridge'/><bridge name='br0' delay='2'/>`), 'bridge'],
    ['mtu on a forward-mode-bridge network', net(`<forward mode='bridge'/><bridge name='br0'/><mtu size='9000'/>`), 'mtu'],
    ['bandwidth with mode bridge', net(`<forward mode='bridge'/><bridge name='br0'/><bandwidth><inbound average='1'/></bandwidth>`), 'bandwidth'],
    ['bandwidth with mode passthrough', net(`<forward mode='passthrough'><interface dev='e1'/></forward><bandwidth><outbound average='1'/></bandwidth>`), 'bandwidth'],
    ['bandwidth with mode hostdev', net(`<forward mode='hostdev'><pf dev='e1'/></forward><bandwidth><outbound average='1'/></bandwidth>`), 'bandwidth'],
    ['a bridge name and a forward dev in mode bridge', net(`<forward mode='bridge' dev='e1'/><bridge name='br0'/>`), 'bridge'],
    ['a bridge name in mode private', net(`<forward mode='private'><interface dev='e1'/></forward><bridge name='br0'/>`), 'bridge'],
    ['forward dev with mode open', net(`<forward mode='open' dev='e1'/><ip address='192.0.2.1' prefix='24'/>`), 'forward'],
    ['nat without an address', net(`<forward mode='nat'/>`), 'forward'],
    ['dns records while dns is disabled', net(`<dns enable='no'><txt name='a' value='b'/></dns><ip address='192.0.2.1' prefix='24'/>`), 'dns'],
    ['a duplicate forward interface', net(`<forward mode='vepa'><interface dev='e1'/><interface dev='e1'/></forward>`), 'interface'],
    ['a duplicate PCI address', net(`<forward mode='hostdev'><address type='pci' bus='1'/><address type='pci' bus='0x01'/></forward>`), 'address'],
    ['forward dev not matching the first interface', net(`<forward mode='vepa' dev='e2'><interface dev='e1'/></forward>`), 'forward'],
    ['<nat> with mode route', net(`<forward mode='route'><nat/></forward><ip address='192.0.2.1' prefix='24'/>`), 'nat'],
    ['a multicast bridge MAC', net(`<mac address='01:00:5e:00:00:01'/>`), 'mac'],
    ['a DHCP range outside the network', net(`<ip address='192.0.2.1' prefix='24'><dhcp><range start='198.51.100.2' end='198.51.100.9'/></dhcp></ip>`), 'range'],
    ['netmask and prefix together', net(`<ip address='192.0.2.1' prefix='24' netmask='255.255.255.0'/>`), 'ip'],
    ['two default portgroups', net(`<forward mode='bridge'/><bridge name='b'/><portgroup name='a' default='yes'/><portgroup name='b' default='yes'/>`), 'portgroup'],
    ['an unknown forward mode', net(`<forward mode='tunnel'/>`), 'forward'],
    ['a missing name', `<network><uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid></network>`, 'name'],
    ['not XML', `<network><name>x</network>`, 'network'],
  ])('refuses %s', (_what, xml, element) => {
    const err = refused(xml);
    expect(err.detail.element).toBe(element);
    expect(err.message).toContain(`<${element}>`);
  });
});

describe('round trip', () => {
  it('writes the host-bridge network hostnetd uses', () => {
    const def = parseNetworkXml(net(`<forward mode='bridge'/><bridge name='ovirtmgmt' macTableManager='libvirt'/><port isolated='yes'/>`));
    expect(def).toMatchObject({ forward: { mode: 'bridge' }, bridge: { name: 'ovirtmgmt', macTableManager: 'libvirt' }, port: { isolated: true } });
    expect(def.bridge?.stp).toBeUndefined();
    expect(serializeNetworkXml(def)).toBe(
      '<network>\n  <name>n</name>\n  <forward mode="bridge"/>\n  <bridge name="ovirtmgmt" macTableManager="libvirt"/>\n  <port isolated="yes"/>\n</network>\n',
    );
  });

  it('keeps unknown elements and foreign namespaces', () => {
    const xml = `<network xmlns:x='urn:x'><name>n</name><forward mode='bridge'/><bridge name='b'/>` +
      `<futureThing level='3'><inner>t</inner></futureThing><x:opt v='1'/></network>`;
    const out = serializeNetworkXml(parseNetworkXml(xml));
    expect(out).toContain(`<futureThing level="3"><inner>t</inner></futureThing>`);
    expect(out).toMatch(/<x:opt v="1"( xmlns:x="urn:x")?\/>/);
    expect(out).toContain('<network xmlns:x="urn:x">');
    expect(parseNetworkXml(out).extra).toHaveLength(2);
  });
});

describe('the writer', () => {
  it('escapes text and attribute values (xmldom, not string concatenation)', () => {
    const def = parseNetworkXml(net(`<title>a &lt;b&gt; &amp; 'c'</title><description>x "y" &lt;/description&gt;</description>` +
      `<forward mode='bridge'/><bridge name='b'/><portgroup name='p&amp;&quot;q'/>`));
    expect(def.title).toBe("a <b> & 'c'");
    const out = serializeNetworkXml(def);
    expect(out).toContain('<title>a &lt;b&gt; &amp; \'c\'</title>');
    expect(out).toContain('<portgroup name="p&amp;&quot;q"/>');
    expect(parseNetworkXml(out)).toEqual(def);
  });

  it('indents nested elements and keeps verbatim metadata as read', () => {
    const xml = net(`<metadata><app:info xmlns:app='urn:app'>  keep  <b>me</b></app:info></metadata>` +
      `<ip address='192.0.2.1' prefix='24'><dhcp><range start='192.0.2.2' end='192.0.2.9'><lease expiry='1' unit='hours'/></range></dhcp></ip>`);
    const out = serializeNetworkXml(parseNetworkXml(xml));
    expect(out).toContain('\n  <ip address="192.0.2.1" prefix="24">\n    <dhcp>\n      <range start="192.0.2.2" end="192.0.2.9">\n        <lease expiry="1" unit="hours"/>\n      </range>\n    </dhcp>\n  </ip>\n');
    expect(out).toContain('>  keep  <b>me</b></app:info>');
  });
});

describe('the module header', () => {
  it('its example parses to what it says', () => {
    const src = readFileSync(new URL('../../src/libvirt/network-xml.ts', import.meta.url), 'utf8');
    const example = /\* {3}(<network>[\s\S]*?<\/network>)/.exec(src)?.[1]?.replace(/\n \* {3}/g, '\n');
    expect(example).toBeDefined();
    expect(parseNetworkXml(example!)).toMatchObject({
      name: 'vdsm-ovirtmgmt', forward: { mode: 'bridge' }, bridge: { name: 'ovirtmgmt', macTableManager: 'libvirt' }, port: { isolated: true }, ips: [],
    });
  });
});
