import { describe, expect, it } from 'vitest';
import { parseDaemonArgs, type DaemonOptions } from '../../../src/daemon/options.js';
import { ErrorCode, HostnetError } from '../../../src/errors.js';

/** The error fn throws: a HostnetError of code USAGE (never on the wire), or the test fails. */
function usageErrorOf(fn: () => unknown): HostnetError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HostnetError);
    expect((e as HostnetError).code).toBe(ErrorCode.USAGE);
    return e as HostnetError;
  }
  throw new Error('expected a usage error');
}

const noFile = (f: string): string => {
  throw new Error(`ENOENT: ${f}`);
};
const parse = (argv: string[], files: Record<string, string> = {}) =>
  parseDaemonArgs(argv, (f) => files[f] ?? noFile(f)) as DaemonOptions;

describe('parseDaemonArgs', () => {
  it('has the documented defaults', () => {
    const o = parse([]);
    expect(o).toMatchObject({
      stateDir: '/var/lib/hostnetd',
      runDir: '/run/hostnetd',
      logLevel: 'info',
      fakeNics: ['dummy_*', 'veth_*'],
      libvirtUri: 'qemu:///system',
      resolvConf: '/etc/resolv.conf',
      allowOrigins: [],
    });
    expect(o.listen).toEqual([{ kind: 'unix', path: '/run/hostnetd/hostnetd.sock', url: 'unix:/run/hostnetd/hostnetd.sock' }]);
    expect(o.tls).toBeUndefined();
  });

  it('puts the default socket in --run-dir and takes repeated --listen', () => {
    expect(parse(['--run-dir', '/tmp/r']).listen[0]).toMatchObject({ path: '/tmp/r/hostnetd.sock' });
    const o = parse(['--listen', 'unix:/tmp/a.sock', '--listen', 'ws://127.0.0.1:0']);
    expect(o.listen.map((l) => l.kind)).toEqual(['unix', 'ws']);
  });

  it('reads --config with camelCase keys, the command line winning', () => {
    const files = {
      '/etc/hostnetd.json': JSON.stringify({
        stateDir: '/srv/state',
        logLevel: 'debug',
        listen: ['unix:/srv/h.sock'],
        fakeNics: ['veth_*', 'tap_*'],
        allowOrigin: 'https://engine.example',
        maxConnections: 10,
      }),
    };
    const o = parse(['--config', '/etc/hostnetd.json', '--log-level', 'warn'], files);
    expect(o).toMatchObject({
      stateDir: '/srv/state',
      logLevel: 'warn',
      fakeNics: ['veth_*', 'tap_*'],
      allowOrigins: ['https://engine.example'],
      maxConnections: 10,
    });
    expect(o.listen[0]).toMatchObject({ path: '/srv/h.sock' });
  });

  it('refuses a bad config file clearly', () => {
    expect(() => parse(['--config', '/x.json'])).toThrow(/cannot read/);
    expect(() => parse(['--config', '/x.json'], { '/x.json': '{' })).toThrow(/not valid JSON/);
    expect(() => parse(['--config', '/x.json'], { '/x.json': '{"stateDirectory":"/a"}' })).toThrow(/unknown key "stateDirectory"/);
    expect(() => parse(['--config', '/x.json'], { '/x.json': '{"stateDir":{}}' })).toThrow(/stateDir must be a string/);
  });

  it('refuses non-loopback ws and wss without TLS files', () => {
    usageErrorOf(() => parse(['--listen', 'ws://0.0.0.0:4044']));
    expect(() => parse(['--listen', 'wss://0.0.0.0:4044', '--tls-cert', '/c'])).toThrow(/--tls-key, --tls-ca/);
    const o = parse(['--listen', 'wss://0.0.0.0:4044', '--tls-cert', '/c', '--tls-key', '/k', '--tls-ca', '/ca']);
    expect(o.tls).toEqual({ cert: '/c', key: '/k', ca: '/ca' });
    // an engine-enrolled host: no --tls-* at all takes VDSM's certificate paths
    expect(parse(['--listen', 'tls://0.0.0.0:54321']).tls).toEqual({
      cert: '/etc/pki/vdsm/certs/vdsmcert.pem',
      key: '/etc/pki/vdsm/keys/vdsmkey.pem',
      ca: '/etc/pki/vdsm/certs/cacert.pem',
    });
    expect(() => parse(['--listen', 'tls://0.0.0.0:54321', '--tls-ca', '/ca'])).toThrow(/--tls-cert, --tls-key too/);
  });

  it('refuses unknown flags and bad values', () => {
    usageErrorOf(() => parse(['--bogus']));
    expect(() => parse(['--log-level', 'loud'])).toThrow(/--log-level loud/);
    expect(() => parse(['--max-connections', '0'])).toThrow(/positive integer/);
    expect(() => parse(['--warm-up=-1'])).toThrow(/--warm-up -1: expected an integer of 0 or more/);
    expect(() => parse(['--warm-up', '1.5'])).toThrow(/--warm-up 1.5/);
    expect(() => parse(['--netlink-rcvbuf', '1024'])).toThrow(/--netlink-rcvbuf 1024: expected an integer of 4096 or more/);
    expect(() => parse(['--netlink-rcvbuf', String(2 ** 31)])).toThrow(/--netlink-rcvbuf 2147483648: expected at most 1073741824/);
    expect(parse(['--netlink-rcvbuf', '65536']).netlinkRcvbuf).toBe(65536);
    expect(parse([]).netlinkRcvbuf).toBe(64 << 20);
    usageErrorOf(() => parse(['extra']));
  });

  it('answers help', () => {
    expect(parseDaemonArgs(['--help'], noFile)).toBe('help');
  });
});
