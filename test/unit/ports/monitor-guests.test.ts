import { describe, expect, it } from 'vitest';
import { domainInterfaces, macsByPort } from '../../../src/ports/guests.js';

describe('guest interfaces from domain XML', () => {
  const xml = `<domain type='kvm' id='3'><name>vm1</name><devices>
    <disk type='file'><target dev='vda'/></disk>
    <interface type='bridge'><mac address='52:54:00:AA:00:01'/><source bridge='vmnet'/><target dev='vnet0'/></interface>
    <interface type='network'><mac address='52:54:00:aa:00:02'/><source network='vdsm-vmnet'/><target dev='vnet1'/></interface>
    <interface type='bridge'><mac address='52:54:00:aa:00:03'/><source bridge='vmnet'/></interface>
  </devices></domain>`;
  it('takes interfaces with a target device and a MAC (lower case); disks and target-less interfaces are not ports', () => {
    expect(domainInterfaces(xml)).toEqual([{ target: 'vnet0', mac: '52:54:00:aa:00:01' }, { target: 'vnet1', mac: '52:54:00:aa:00:02' }]);
  });
  it('merges domains; bad XML gives nothing', () => {
    const other = `<domain><devices><interface type='bridge'><mac address='52:54:00:bb:00:01'/><target dev='vnet7'/></interface></devices></domain>`;
    expect(macsByPort([xml, other, '<not xml'])).toEqual(new Map([
      ['vnet0', ['52:54:00:aa:00:01']], ['vnet1', ['52:54:00:aa:00:02']], ['vnet7', ['52:54:00:bb:00:01']],
    ]));
  });
});
