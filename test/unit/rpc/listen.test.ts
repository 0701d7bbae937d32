import { describe, expect, it } from 'vitest';
import { isLoopback, parseListen } from '../../../src/rpc/listen.js';

describe('parseListen', () => {
  it('parses every kind', () => {
    expect(parseListen('tcp://127.0.0.1:54321')).toMatchObject({ kind: 'tcp', host: '127.0.0.1', port: 54321 });
    expect(parseListen('tls://0.0.0.0:54321')).toMatchObject({ kind: 'tls', host: '0.0.0.0', port: 54321 });
    expect(parseListen('tls://[::]:54321')).toMatchObject({ kind: 'tls', host: '::', port: 54321 });
    expect(parseListen('unix:/run/hostnetd/hostnetd.sock')).toMatchObject({ kind: 'unix', path: '/run/hostnetd/hostnetd.sock' });
    expect(parseListen('ws://127.0.0.1:4044')).toMatchObject({ kind: 'ws', host: '127.0.0.1', port: 4044 });
    expect(parseListen('ws://[::1]:4044')).toMatchObject({ kind: 'ws', host: '::1', port: 4044 });
    expect(parseListen('wss://0.0.0.0:54321')).toMatchObject({ kind: 'wss', host: '0.0.0.0', port: 54321 });
  });

  it('refuses plain ws off loopback, naming the way out', () => {
    expect(() => parseListen('ws://0.0.0.0:4044')).toThrow(/only on loopback.*tls:\/\//);
    expect(() => parseListen('tcp://0.0.0.0:54321')).toThrow(/plain tcp:\/\/ is allowed only on loopback.*Use tls:\/\/0.0.0.0:54321/);
    expect(() => parseListen('ws://192.0.2.5:4044')).toThrow(/only on loopback/);
    expect(() => parseListen('ws://[::]:4044')).toThrow(/only on loopback/);
  });

  it('refuses what it cannot serve', () => {
    expect(() => parseListen('unix:relative.sock')).toThrow(/absolute path/);
    expect(() => parseListen('http://127.0.0.1:80')).toThrow(/unknown scheme/);
    expect(() => parseListen('ws://127.0.0.1')).toThrow(/port is required/);
    expect(() => parseListen('ws://127.0.0.1:80/rpc')).toThrow(/only ws:\/\/ADDR:PORT/);
    expect(() => parseListen('tcp://127.0.0.1:80/rpc')).toThrow(/only tcp:\/\/ADDR:PORT/);
    expect(() => parseListen('tcp://127.0.0.1')).toThrow(/port is required/);
    expect(() => parseListen('nonsense')).toThrow(/not a URL/);
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.5.0.1', '::1', 'localhost', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', 'example.org', '128.0.0.1'].some(isLoopback)).toBe(false);
  });
});
