import { describe, expect, it } from 'vitest';
import { ownerConflict, requestedNics } from '../../../src/apply/nic-owners.js';
import { parseNmcliStates, type DhcpClientProcess } from '../../../src/kernel/owners.js';

const client = (over: Partial<DhcpClientProcess>): DhcpClientProcess => ({ program: 'dhclient', pid: 42, args: ['-4', 'eth0'], cgroup: '0::/system.slice/ifup@eth0.service', ...over });

describe('NICs owned by another manager', () => {
  it('reads nmcli -t states, with escaped colons', () => {
    expect(parseNmcliStates('eth0:connected\nlo:unmanaged\nweird\\:1:disconnected\n')).toEqual(
      new Map([['eth0', 'connected'], ['lo', 'unmanaged'], ['weird:1', 'disconnected']]));
  });

  it('collects the NICs a request names, not those of removals, whatever the shapes', () => {
    const nics = requestedNics({
      networks: { mgmt: { nic: 'eth0' }, gone: { remove: true, nic: 'eth9' }, odd: { nic: 5 }, bad: null } as never,
      bondings: { bond1: { nics: ['eth1', 'eth2', 7] }, old: { remove: true, nics: ['eth8'] } } as never,
      options: {},
    });
    expect([...nics]).toEqual([['eth0', "network 'mgmt': nic"], ['eth1', "bond 'bond1': nics"], ['eth2', "bond 'bond1': nics"]]);
  });

  it('names NetworkManager with the device state, and leaves unmanaged devices alone', () => {
    const nics = new Map([['eth0', "network 'mgmt': nic"]]);
    expect(ownerConflict(nics, new Map([['eth0', 'connected']]), [])).toBe(
      'network \'mgmt\': nic eth0 is managed by NetworkManager (state connected); hand it over first: nmcli device set eth0 managed no (README, "Taking over a host")');
    expect(ownerConflict(nics, new Map([['eth0', 'unmanaged']]), [])).toBeUndefined();
    expect(ownerConflict(nics, undefined, [])).toBeUndefined();
  });

  it('names a foreign DHCP client by program and pid; hostnetd\'s own and other NICs\' clients pass', () => {
    const nics = new Map([['eth1', "bond 'bond1': nics"]]);
    expect(ownerConflict(nics, undefined, [client({ args: ['-4', 'eth1'], program: 'dhcpcd', pid: 7 })])).toBe(
      'bond \'bond1\': nics eth1 has a DHCP client hostnetd did not start: dhcpcd (pid 7); stop it first (ifdown eth1, or the service that runs it) (README, "Taking over a host")');
    expect(ownerConflict(nics, undefined, [client({ args: ['eth1'], cgroup: '0::/system.slice/hostnetd-dhcp-eth1.service' })])).toBeUndefined();
    expect(ownerConflict(nics, undefined, [client({ args: ['-pf', '/run/dhclient.eth10.pid', 'eth10'] })])).toBeUndefined();
    expect(ownerConflict(nics, undefined, [client({ args: ['eth1'], pid: 99 })], new Set([99]))).toBeUndefined();
  });
});
