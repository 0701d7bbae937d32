import { describe, expect, it } from 'vitest';
import { parseCli, requestFromJson } from '../../../src/cli/args.js';
import { ErrorCode, HostnetError } from '../../../src/errors.js';

describe('parseCli', () => {
  it('defaults to the daemon socket, takes global options anywhere', () => {
    expect(parseCli(['caps'])).toEqual({ command: { cmd: 'caps' }, target: { kind: 'unix', path: '/run/hostnetd/hostnetd.sock' }, json: false });
    expect(parseCli(['stats', '--json', '--socket', '/tmp/s.sock'])).toEqual({
      command: { cmd: 'stats' },
      target: { kind: 'unix', path: '/tmp/s.sock' },
      json: true,
    });
    expect(parseCli(['--url', 'wss://h:1', '--tls-cert', 'c', '--tls-key', 'k', '--tls-ca', 'a', 'ping']).target).toEqual({
      kind: 'url',
      url: 'wss://h:1',
      tlsCert: 'c',
      tlsKey: 'k',
      tlsCa: 'a',
    });
  });

  it('setup --net takes names that are Object.prototype members, and sends them as such', () => {
    const cmd = parseCli(['setup', '--net', 'toString', '--nic', 'veth_0', '--net', '__proto__', '--nic', 'veth_1', '--remove', 'constructor']).command;
    expect(cmd.cmd).toBe('setup');
    const wire = JSON.parse(JSON.stringify((cmd as { request: { networks: unknown } }).request.networks)) as Record<string, unknown>;
    expect(Object.keys(wire)).toEqual(['toString', '__proto__', 'constructor']);
    expect(wire.__proto__).toEqual({ nic: 'veth_1' });
    expect(wire.constructor).toEqual({ remove: true });
  });

  it('gives help for the tool and for each command', () => {
    expect(parseCli(['--help']).command).toEqual({ cmd: 'help' });
    expect(parseCli(['setup', '--help']).command).toEqual({ cmd: 'help', topic: 'setup' });
    expect(parseCli(['help', 'caps']).command).toEqual({ cmd: 'help', topic: 'caps' });
  });

  it('parses call with JSON params', () => {
    expect(parseCli(['call', 'Host.ping2']).command).toEqual({ cmd: 'call', method: 'Host.ping2' });
    expect(parseCli(['call', 'Host.setupNetworks', '{"networks":{}}']).command).toEqual({
      cmd: 'call',
      method: 'Host.setupNetworks',
      params: { networks: {} },
    });
    expect(() => parseCli(['call', 'X', '{bad'])).toThrow(/not valid JSON/);
    expect(() => parseCli(['call', 'X', '3'])).toThrow(/object or array/);
    expect(() => parseCli(['call'])).toThrow(/needs a METHOD/);
  });

  it('builds bonds and the hostnetd attributes from flags, with names that are Object.prototype members', () => {
    const inv = parseCli([
      'setup',
      '--bond-def', 'bond0', '--slaves', 'eth1, eth2', '--options', 'mode=4 miimon=100', '--bond-hwaddr', '52:54:00:00:00:01',
      '--net', 'toString', '--bond', 'bond0', '--vlan', '100', '--port-isolation', '--mac-table-manager', 'libvirt',
      '--qos-out-ls', '50', '--qos-out-ul', 'm1=200,d=10,m2=100',
      '--net', 'constructor', '--nic', 'eth3',
      '--remove-bond', 'bond9', '--remove', '__proto__',
      '--no-check',
    ]);
    const cmd = inv.command as { request: { networks: Record<string, unknown>; bondings: Record<string, unknown> } };
    // JSON.parse makes "__proto__" an own key, as the wire does (an object literal would not)
    expect(JSON.parse(JSON.stringify(cmd.request))).toEqual(JSON.parse(JSON.stringify({
      networks: {
        toString: { bonding: 'bond0', vlan: 100, portIsolation: true, macTableManager: 'libvirt', hostQos: { out: { ls: { m2: 50_000_000 }, ul: { m1: 200, d: 10, m2: 100 } } } },
        constructor: { nic: 'eth3' },
      },
      bondings: { bond0: { nics: ['eth1', 'eth2'], options: 'mode=4 miimon=100', hwaddr: '52:54:00:00:00:01' }, bond9: { remove: true } },
      options: { connectivityCheck: false },
    }).replace('"constructor":{"nic":"eth3"}', '"constructor":{"nic":"eth3"},"__proto__":{"remove":true}')));
    expect(Object.keys(cmd.request.networks)).toEqual(['toString', 'constructor', '__proto__']);
  });

  it('refuses bond flags outside a --bond-def, net flags after one, and odd QoS curves', () => {
    expect(() => parseCli(['setup', '--net', 'n', '--slaves', 'a'])).toThrow(/--slaves must follow the --bond-def NAME/);
    expect(() => parseCli(['setup', '--bond-def', 'b', '--nic', 'a'])).toThrow(/--nic must follow the --net NAME/);
    expect(() => parseCli(['setup', '--remove-bond', 'b', '--options', 'mode=1'])).toThrow(/--remove-bond b takes no attributes/);
    expect(() => parseCli(['setup', '--net', 'n', '--qos-out-ls', 'fast'])).toThrow(/expected M2 or m1=N,d=N,m2=N/);
    expect(() => parseCli(['setup', '--bond-def', 'b', '--bond-def', 'b'])).toThrow(/bond b is named twice/);
    expect(() => parseCli(['setup', '--net', 'toString', '--net', 'toString'])).toThrow(/network toString is named twice/);
  });

  it('builds networks from flags, each --net starting a new one', () => {
    const inv = parseCli([
      'setup',
      '--net', 'mgmt', '--nic', 'veth_0', '--ip', '192.0.2.10/24', '--gateway', '192.0.2.1', '--default-route',
      '--nameserver', '192.0.2.53', '--ip', '2001:db8::10/64', '--gateway', '2001:db8::1',
      '--net', 'storage', '--nic', 'veth_1', '--bridgeless', '--mtu', '9000', '--vlan', '12',
      '--remove', 'old',
      '--timeout', '10', '--commit',
    ]);
    expect(inv.command).toEqual({
      cmd: 'setup',
      confirm: true,
      options: { connectivityTimeout: 10, commitOnSuccess: true },
      request: {
        networks: {
          mgmt: {
            nic: 'veth_0', ipaddr: '192.0.2.10', prefix: 24, gateway: '192.0.2.1', defaultRoute: true,
            nameservers: ['192.0.2.53'], ipv6addr: '2001:db8::10/64', ipv6gateway: '2001:db8::1',
          },
          storage: { nic: 'veth_1', bridged: false, mtu: 9000, vlan: 12 },
          old: { remove: true },
        },
        bondings: {},
        options: { connectivityTimeout: 10, commitOnSuccess: true },
      },
    });
  });

  it('--dhcp, --dhcpv6, --autoconf and --blocking-dhcp are VDSM attributes of the network before them', () => {
    const inv = parseCli(['setup', '--net', 'mgmt', '--nic', 'veth_0', '--dhcp', '--dhcpv6', '--autoconf', '--blocking-dhcp', '--default-route', '--net', 'lab', '--nic', 'veth_1', '--dhcp']);
    expect(inv.command.cmd === 'setup' && inv.command.request?.networks).toEqual({
      mgmt: { nic: 'veth_0', bootproto: 'dhcp', dhcpv6: true, ipv6autoconf: true, blockingdhcp: true, defaultRoute: true },
      lab: { nic: 'veth_1', bootproto: 'dhcp' },
    });
    expect(() => parseCli(['setup', '--dhcp'])).toThrow(/must follow the --net NAME/);
  });

  it('passes odd values through for the daemon to judge, but refuses misplaced flags', () => {
    const inv = parseCli(['setup', '--net', 'n', '--mtu', 'big']);
    expect(inv.command.cmd === 'setup' && inv.command.request?.networks.n).toEqual({ mtu: 'big' });
    expect(() => parseCli(['setup', '--nic', 'veth_0'])).toThrow(/must follow the --net NAME/);
    expect(() => parseCli(['setup', '--remove', 'a', '--nic', 'veth_0'])).toThrow(/--remove a takes no attributes/);
    expect(() => parseCli(['setup', '--net', 'a', '--net', 'a'])).toThrow(/named twice/);
    expect(() => parseCli(['setup', '--net', 'a', '--nic', 'x', '--nic', 'y'])).toThrow(/given twice/);
    expect(() => parseCli(['setup', '--net', 'a', '--bridged', '--bridgeless'])).toThrow(/given twice|conflicts/);
    expect(() => parseCli(['setup', '--net', 'a', '--ip', '192.0.2.1'])).toThrow(/ADDRESS\/PREFIX/);
    expect(() => parseCli(['setup'])).toThrow(/needs a FILE/);
    expect(() => parseCli(['setup', 'f.json', '--net', 'a'])).toThrow(/not both/);
    expect(() => parseCli(['setup', '--net', 'a', '--timeout', '0'])).toThrow(/seconds/);
  });

  it('takes a file, with --no-confirm and --no-check', () => {
    expect(parseCli(['setup', 'nets.json', '--no-confirm']).command).toEqual({ cmd: 'setup', file: 'nets.json', options: {}, confirm: false });
    expect(parseCli(['setup', '-', '--no-check']).command).toEqual({ cmd: 'setup', file: '-', options: { connectivityCheck: false }, confirm: false });
  });

  it('refuses usage errors with a HostnetError of code USAGE', () => {
    for (const argv of [[], ['frobnicate'], ['caps', 'extra'], ['caps', '--nic', 'x'], ['caps', '--bogus'], ['caps', '--socket', 'a', '--url', 'ws://b:1'], ['caps', '--tls-ca', 'x'], ['caps', '--url', 'http://x']]) {
      let err: unknown;
      try {
        parseCli(argv);
      } catch (e) {
        err = e;
      }
      expect(err, argv.join(' ')).toBeInstanceOf(HostnetError);
      expect((err as HostnetError).code, argv.join(' ')).toBe(ErrorCode.USAGE);
    }
  });
});

describe('requestFromJson', () => {
  it('fills left-out bondings and lays flag options over the file', () => {
    expect(requestFromJson('{"networks":{"a":{}},"options":{"connectivityTimeout":4,"commitOnSuccess":false}}', 'f', { commitOnSuccess: true })).toEqual({
      networks: { a: {} },
      bondings: {},
      options: { connectivityTimeout: 4, commitOnSuccess: true },
    });
  });

  it('refuses what is not a setup request', () => {
    expect(() => requestFromJson('[', 'f', {})).toThrow(/not valid JSON/);
    expect(() => requestFromJson('{}', 'f', {})).toThrow(/expected \{"networks"/);
    expect(() => requestFromJson('{"networks":{},"nets":{}}', 'f', {})).toThrow(/unknown key "nets"/);
  });
});
