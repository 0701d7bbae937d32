import { describe, expect, it } from 'vitest';
import { parseDaemonArgs, VDSM_TLS, type DaemonOptions } from '../../../src/daemon/options.js';

const parse = (argv: string[]) => parseDaemonArgs(argv, (f) => { throw new Error(`ENOENT: ${f}`); }) as DaemonOptions;

describe('--metrics', () => {
  it('is off by default and takes a loopback http URL with its path', () => {
    expect(parse([]).metrics).toBeUndefined();
    expect(parse(['--metrics', 'http://127.0.0.1:9540/metrics']).metrics).toEqual(
      { url: 'http://127.0.0.1:9540/metrics', tls: false, host: '127.0.0.1', port: 9540, path: '/metrics' });
    expect(parse(['--metrics', 'http://[::1]:9540/m']).metrics).toMatchObject({ host: '::1', path: '/m' });
  });

  it('refuses plain http off loopback, a missing port, other schemes and queries, naming the URL', () => {
    expect(() => parse(['--metrics', 'http://0.0.0.0:9540/metrics'])).toThrow(
      '--metrics http://0.0.0.0:9540/metrics: plain http is allowed only on loopback addresses (127.0.0.1, ::1); use https://0.0.0.0:9540/metrics with client certificates');
    expect(() => parse(['--metrics', 'http://127.0.0.1/metrics'])).toThrow('--metrics http://127.0.0.1/metrics: a port is required');
    expect(() => parse(['--metrics', 'ftp://127.0.0.1:21/x'])).toThrow('the scheme must be http or https');
    expect(() => parse(['--metrics', 'http://127.0.0.1:9540/metrics?x=1'])).toThrow('only http://ADDR:PORT/PATH is allowed');
    expect(() => parse(['--metrics', 'nonsense'])).toThrow('--metrics nonsense: not a URL');
  });

  it('https uses the tls:// rules: VDSM\'s files when no --tls-* is given, all three otherwise', () => {
    expect(parse(['--metrics', 'https://0.0.0.0:9540/metrics']).tls).toEqual(VDSM_TLS);
    expect(() => parse(['--metrics', 'https://0.0.0.0:9540/metrics', '--tls-cert', '/c.pem'])).toThrow(
      'https://0.0.0.0:9540/metrics needs --tls-key, --tls-ca too');
  });

  it('needs the info events it counts from', () => {
    expect(() => parse(['--metrics', 'http://127.0.0.1:9540/metrics', '--log-level', 'warn'])).toThrow(
      '--metrics needs --log-level info, debug or trace (the counters are read from the info events), got warn');
    expect(parse(['--metrics', 'http://127.0.0.1:9540/metrics', '--log-level', 'debug']).logLevel).toBe('debug');
  });
});
