/**
 * A private libvirt test-driver "node": test:///<abs path> with networks and one running
 * domain, written into a temp dir. The test driver runs inside libvirt.so (no libvirtd) and
 * gives each connection to the file a fresh private state.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { fixturePath } from './fixtures.js';

export const VM = {
  name: 'hnl-vm1',
  uuid: '6a2d1a5e-3c8b-4f0e-9d55-8f1c2b3a4d01',
  macs: ['52:54:00:d6:c0:0b', '52:54:00:aa:bb:02'],
};

/**
 * The first guest interface comes from libvirt's own domain XML sample (net-isolated-port:
 * a type='network' interface with <port isolated='yes'/>), its source pointed at our network;
 * when the shared fixtures are absent an equivalent inline interface stands in.
 */
function isolatedInterface(network: string): string {
  const sample = fixturePath('libvirt-domainxml', 'net-isolated-port.xml');
  const inline = `<interface type='network'><mac address='${VM.macs[0]}'/><source network='${network}'/>` +
    `<port isolated='yes'/><model type='virtio'/></interface>`;
  if (!existsSync(sample)) return inline;
  const doc = new DOMParser().parseFromString(readFileSync(sample, 'utf8'), 'text/xml');
  const iface = doc.getElementsByTagName('interface')[0];
  const source = iface?.getElementsByTagName('source')[0];
  if (!iface || !source) return inline;
  source.setAttribute('network', network);
  return new XMLSerializer().serializeToString(iface);
}

export function nodeXml(): string {
  return `<node>
  <network>
    <name>vdsm-hnlnet1</name>
    <uuid>0f4c7b36-8a4e-4d9b-a1c1-3e5d7f9a0b11</uuid>
    <forward mode='bridge'/>
    <bridge name='hnlnet1'/>
  </network>
  <network>
    <name>hnl-isolated</name>
    <bridge name='hnlbr9'/>
    <ip address='192.0.2.1' netmask='255.255.255.0'/>
  </network>
  <domain type='test'>
    <name>${VM.name}</name>
    <uuid>${VM.uuid}</uuid>
    <memory>65536</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <devices>
      ${isolatedInterface('vdsm-hnlnet1')}
      <interface type='bridge'>
        <mac address='${VM.macs[1]}'/>
        <source bridge='hnlnet1'/>
        <target dev='vnet42'/>
      </interface>
    </devices>
  </domain>
</node>
`;
}

export function makeTestNode(): { uri: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'hnl-libvirt-'));
  const file = join(dir, 'node.xml');
  writeFileSync(file, nodeXml());
  return { uri: `test://${file}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
