import { describe, expect, it } from 'vitest';
import { detectProtocol } from '../../../src/rpc/detect.js';

const d = (s: string) => detectProtocol(Buffer.from(s, 'latin1'));

describe('detectProtocol', () => {
  it('an HTTP request line is HTTP', () => {
    expect(d('GET / HTTP/1.1\r\n')).toBe('http');
    expect(d('PUT /x HTTP/1.1')).toBe('http');
  });

  it('a STOMP client command is STOMP, heart-beat EOLs before it allowed', () => {
    expect(d('CONNECT\naccept-version:1.2')).toBe('stomp');
    expect(d('STOMP\r\n')).toBe('stomp');
    expect(d('SUBSCRIBE\ndestination:x')).toBe('stomp');
    expect(d('\n\nSEND\n')).toBe('stomp');
  });

  it('waits for more while the bytes could still become either', () => {
    for (const s of ['', 'G', 'GE', 'GET', 'CONN', 'CONNECT', 'SUB', 'SEND', '\n']) expect(d(s)).toBe('more');
  });

  it('anything else is unknown: TLS to a plain port, HTTP CONNECT, garbage', () => {
    expect(detectProtocol(Buffer.from([0x16, 0x03, 0x01, 0x02]))).toBe('unknown');
    expect(d('CONNECT host:443 HTTP/1.1')).toBe('unknown');
    expect(d('hello')).toBe('unknown');
    expect(d('GETX / HTTP/1.1')).toBe('unknown');
  });
});
