import { describe, expect, it } from 'vitest';
import { parseCli, requestFromJson, UsageError } from '../../../src/cli/args.js';

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

  it('refuses usage errors with UsageError', () => {
    for (const argv of [[], ['frobnicate'], ['caps', 'extra'], ['caps', '--nic', 'x'], ['caps', '--bogus'], ['caps', '--socket', 'a', '--url', 'ws://b:1'], ['caps', '--tls-ca', 'x'], ['caps', '--url', 'http://x']]) {
      expect(() => parseCli(argv), argv.join(' ')).toThrow(UsageError);
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
