import { describe, expect, it } from 'vitest';
import { encodeFrame, escapeHeader, FrameParser, unescapeHeader } from '../../../../src/rpc/stomp/frame.js';
import { ErrorCode, HostnetError } from '../../../../src/errors.js';

const MiB = 1024 * 1024;
const b = (s: string) => Buffer.from(s, 'utf8');
const headersOf = (m: Map<string, string>) => Object.fromEntries(m);

describe('STOMP frame parser', () => {
  it('reads a frame without content-length up to its NUL', () => {
    const [f] = new FrameParser(MiB).push(b('CONNECT\naccept-version:1.2\nhost:h\nheart-beat:0,15000\n\n\0'));
    expect(f!.command).toBe('CONNECT');
    expect(headersOf(f!.headers)).toEqual({ 'accept-version': '1.2', host: 'h', 'heart-beat': '0,15000' });
    expect(f!.body.length).toBe(0);
  });

  it('honours content-length, so a body may hold NUL bytes', () => {
    const body = 'a\0b';
    const [f] = new FrameParser(MiB).push(b(`SEND\ndestination:q\ncontent-length:3\n\n${body}\0`));
    expect(f!.body.toString()).toBe(body);
  });

  it('reads several frames from one read, and heart-beat EOLs between them', () => {
    const frames = new FrameParser(MiB).push(b('\nSUBSCRIBE\nid:1\ndestination:a\n\n\0\r\n\nSEND\ndestination:a\n\nhi\0\n'));
    expect(frames.map((f) => f.command)).toEqual(['SUBSCRIBE', 'SEND']);
    expect(frames[1]!.body.toString()).toBe('hi');
  });

  it('reads one frame split over many reads, byte by byte', () => {
    const wire = b('SEND\ndestination:jms.topic.vdsm_requests\ncontent-length:27\nreply-to:r\n\n{"jsonrpc":"2.0","id":"x1"}\0');
    const p = new FrameParser(MiB);
    const got = [];
    for (const byte of wire) got.push(...p.push(Buffer.from([byte])));
    expect(got).toHaveLength(1);
    expect(got[0]!.body.toString()).toBe('{"jsonrpc":"2.0","id":"x1"}');
    expect(p.pending).toBe(0);
  });

  it('accepts CRLF line ends', () => {
    const [f] = new FrameParser(MiB).push(b('CONNECT\r\naccept-version:1.2\r\n\r\n\0'));
    expect(headersOf(f!.headers)).toEqual({ 'accept-version': '1.2' });
  });

  it('keeps the first of repeated headers', () => {
    const [f] = new FrameParser(MiB).push(b('SEND\ndestination:first\ndestination:second\n\n\0'));
    expect(f!.headers.get('destination')).toBe('first');
  });

  it('unescapes headers, and refuses undefined escapes', () => {
    const [f] = new FrameParser(MiB).push(b('SEND\ndestination:a\\cb\nx\\ny:1\\\\2\\r\n\n\0'));
    expect(headersOf(f!.headers)).toEqual({ destination: 'a:b', 'x\ny': '1\\2\r' });
    const err = (() => { try { new FrameParser(MiB).push(b('SEND\ndestination:a\\tb\n\n\0')); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(HostnetError);
    expect((err as HostnetError).code).toBe(ErrorCode.BAD_FRAME);
    expect((err as HostnetError).message).toMatch(/undefined escape/);
  });

  it('refuses an unknown command, a header without colon, a bad content-length, a missing NUL', () => {
    expect(() => new FrameParser(MiB).push(b('HELLO\n\n\0'))).toThrow(/unknown command "HELLO"/);
    expect(() => new FrameParser(MiB).push(b('SEND\nnocolon\n\n\0'))).toThrow(/malformed header/);
    expect(() => new FrameParser(MiB).push(b('SEND\ncontent-length:-1\n\n\0'))).toThrow(/content-length/);
    expect(() => new FrameParser(MiB).push(b('SEND\ncontent-length:1\n\nab\0'))).toThrow(/does not end with NUL/);
  });

  it('refuses a frame over the size limit, announced or not', () => {
    expect(() => new FrameParser(100).push(b('SEND\ncontent-length:101\n\n'))).toThrow(/larger than 100 bytes/);
    const p = new FrameParser(100);
    expect(() => p.push(b(`SEND\n\n${'x'.repeat(200)}`))).toThrow(/larger than 100 bytes/);
  });
});

describe('STOMP frame encoder', () => {
  it('writes command, escaped headers, content-length and NUL; round-trips through the parser', () => {
    const wire = encodeFrame('MESSAGE', [['destination', 'a:b'], ['subscription', 'x\\y\nz']], '{"ok":true}');
    expect(wire.toString()).toBe('MESSAGE\ndestination:a\\cb\nsubscription:x\\\\y\\nz\ncontent-length:11\n\n{"ok":true}\0');
    const [f] = new FrameParser(MiB).push(wire);
    expect(headersOf(f!.headers)).toEqual({ destination: 'a:b', subscription: 'x\\y\nz', 'content-length': '11' });
    expect(f!.body.toString()).toBe('{"ok":true}');
  });

  it('counts content-length in bytes, not characters', () => {
    expect(encodeFrame('MESSAGE', [], 'é€').toString()).toContain('content-length:5\n');
  });

  it('a frame without body has no content-length', () => {
    expect(encodeFrame('RECEIPT', [['receipt-id', '7']]).toString()).toBe('RECEIPT\nreceipt-id:7\n\n\0');
  });

  it('escape and unescape are inverse', () => {
    for (const v of ['plain', 'a:b', 'c\\d', 'e\nf', 'g\rh', '\\c\\n']) expect(unescapeHeader(escapeHeader(v))).toBe(v);
  });
});
