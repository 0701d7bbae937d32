import { describe, expect, it } from 'vitest';
import { groupsJoined, parseMonitorLine } from '../../../src/kernel/monitor.js';
import { domainInterfaces, macsByPort } from '../../../src/ports/guests.js';

describe('parseMonitorLine (ip -o monitor link, iproute2 6.1)', () => {
  it('a port joining a bridge (RTM_NEWLINK) and its AF_BRIDGE echo', () => {
    expect(parseMonitorLine('4: p1@p1b: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop master br0 state DOWN group default \\    link/ether 72:4a:e4:91:05:bb brd ff:ff:ff:ff:ff:ff'))
      .toEqual({ ifindex: 4, name: 'p1', master: 'br0', deleted: false, up: false });
    expect(parseMonitorLine('4: p1@p1b: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 master br0 state LOWERLAYERDOWN \\    link/ether 72:4a:e4:91:05:bb'))
      .toEqual({ ifindex: 4, name: 'p1', master: 'br0', deleted: false, up: true });
  });
  it('deleted links, links without master or peer', () => {
    expect(parseMonitorLine('Deleted 4: p1@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether 72:4a:e4:91:05:bb brd ff:ff:ff:ff:ff:ff'))
      .toEqual({ ifindex: 4, name: 'p1', deleted: true, up: false });
    expect(parseMonitorLine('2: br0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default event FEATURE CHANGE \\    link/ether 16:f0:1a:53:a0:cd'))
      .toEqual({ ifindex: 2, name: 'br0', deleted: false, up: false });
  });
  it('ignores anything else', () => {
    expect(parseMonitorLine('')).toBeUndefined();
    expect(parseMonitorLine('Timestamp: Sat Nov 21 2026')).toBeUndefined();
    expect(parseMonitorLine('    link/ether 72:4a:e4:91:05:bb')).toBeUndefined();
  });
});

describe('groupsJoined (/proc/PID/net/netlink)', () => {
  const table = [
    'sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode',
    '00000000087f102c 0   0          00000000 0        0        0     2        0        4',
    '0000000088d72f22 0   2741976831 00000000 0        0        0     2        0        285304',
    '000000003dfecad5 0   4922       00000001 0        0        0     2        0        285303',
    '000000003dfecad6 9   4923       00000001 0        0        0     2        0        285305',
  ].join('\n');
  it('true only for a route socket of the process with a group joined', () => {
    expect(groupsJoined(table, new Set(['285303', '285304']))).toBe(true);
    expect(groupsJoined(table, new Set(['285304']))).toBe(false);
    // another protocol (Eth 9) does not count
    expect(groupsJoined(table, new Set(['285305']))).toBe(false);
  });
});

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
