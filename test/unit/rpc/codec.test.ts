import { describe, expect, it } from 'vitest';
import { answerText, decodeFrame, decodeRequest, encodeResponses, errorResponse, resultResponse } from '../../../src/rpc/codec.js';

const codeOf = (text: string) => {
  const item = decodeFrame(text).items[0]!;
  return item.ok ? 'ok' : (item.response as { error: { code: number } }).error.code;
};

describe('decodeFrame', () => {
  it('decodes a single request with named params', () => {
    const f = decodeFrame('{"jsonrpc":"2.0","id":7,"method":"Host.setupNetworks","params":{"networks":{}}}');
    expect(f.batch).toBe(false);
    expect(f.items).toEqual([
      { ok: true, request: { id: 7, method: 'Host.setupNetworks', params: { networks: {} }, notification: false } },
    ]);
  });

  it('keeps positional params and string ids', () => {
    const f = decodeFrame('{"jsonrpc":"2.0","id":"a","method":"m","params":[1,2]}');
    expect(f.items[0]).toEqual({ ok: true, request: { id: 'a', method: 'm', params: [1, 2], notification: false } });
  });

  it('marks a request without id as a notification', () => {
    const item = decodeFrame('{"jsonrpc":"2.0","method":"Host.ping"}').items[0]!;
    expect(item.ok && item.request.notification).toBe(true);
  });

  it('answers malformed JSON with -32700 and id null', () => {
    const item = decodeFrame('{"jsonrpc":"2.0",').items[0]!;
    expect(item.ok).toBe(false);
    if (!item.ok) expect(item.response).toMatchObject({ id: null, error: { code: -32700 } });
  });

  it.each([
    ['a number', '42'],
    ['a string', '"Host.ping"'],
    ['null', 'null'],
    ['no jsonrpc member', '{"id":1,"method":"m"}'],
    ['jsonrpc 1.0', '{"jsonrpc":"1.0","id":1,"method":"m"}'],
    ['no method', '{"jsonrpc":"2.0","id":1}'],
    ['a numeric method', '{"jsonrpc":"2.0","id":1,"method":5}'],
    ['scalar params', '{"jsonrpc":"2.0","id":1,"method":"m","params":3}'],
    ['an object id', '{"jsonrpc":"2.0","id":{},"method":"m"}'],
    ['an empty batch', '[]'],
  ])('answers %s with -32600', (_what, text) => {
    expect(codeOf(text)).toBe(-32600);
  });

  it('answers an invalid request with its id when the id is usable', () => {
    const item = decodeFrame('{"jsonrpc":"1.0","id":9,"method":"m"}').items[0]!;
    expect(!item.ok && item.response.id).toBe(9);
  });

  it('decodes a batch element by element', () => {
    const f = decodeFrame('[{"jsonrpc":"2.0","id":1,"method":"a"}, 5, {"jsonrpc":"2.0","method":"b"}]');
    expect(f.batch).toBe(true);
    expect(f.items.map((i) => i.ok)).toEqual([true, false, true]);
  });

  it('refuses a batch over the limit as a whole', () => {
    const batch = JSON.stringify(Array.from({ length: 3 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'm' })));
    expect(decodeFrame(batch, 3).items.length).toBe(3);
    const f = decodeFrame(batch, 2);
    expect(f.batch).toBe(false);
    expect(f.items[0]).toMatchObject({ ok: false, response: { id: null, error: { code: -32600, message: expect.stringMatching(/batch of 3 requests is over the limit of 2/) } } });
  });

  it('decodeRequest refuses arrays (batches are not nested)', () => {
    expect(decodeRequest([]).ok).toBe(false);
  });
});

describe('encodeResponses', () => {
  it('encodes a single answer as an object and a batch as an array', () => {
    expect(JSON.parse(answerText(encodeResponses(false, [resultResponse(1, true)])!))).toEqual({ jsonrpc: '2.0', id: 1, result: true });
    expect(JSON.parse(answerText(encodeResponses(true, [resultResponse(1, true), errorResponse(2, 21, 'x')])!))).toEqual([
      { jsonrpc: '2.0', id: 1, result: true },
      { jsonrpc: '2.0', id: 2, error: { code: 21, message: 'x' } },
    ]);
  });

  it('sends a frozen result as the UTF-8 bytes of its JSON, made once, alone and in a batch', () => {
    const caps = Object.freeze({ bridges: Object.freeze({ 'ünï': Object.freeze({ mtu: '1500' }) }) });
    const one = encodeResponses(false, [resultResponse(7, caps)])!;
    expect(Array.isArray(one)).toBe(true);
    expect(JSON.parse(answerText(one))).toEqual({ jsonrpc: '2.0', id: 7, result: caps });
    // another request for the same result: the very same bytes after its own id
    const again = encodeResponses(false, [resultResponse('x', caps)]) as readonly Buffer[];
    expect(again[1]).toBe((one as readonly Buffer[])[1]);
    expect(answerText(again)).toBe(`{"jsonrpc":"2.0","id":"x","result":${JSON.stringify(caps)}}`);
    const batch = encodeResponses(true, [resultResponse(1, caps), errorResponse(2, 21, 'x'), resultResponse(3, true)])!;
    expect(JSON.parse(answerText(batch))).toEqual([
      { jsonrpc: '2.0', id: 1, result: caps },
      { jsonrpc: '2.0', id: 2, error: { code: 21, message: 'x' } },
      { jsonrpc: '2.0', id: 3, result: true },
    ]);
  });

  it('owes nothing when there is no answer (notifications only)', () => {
    expect(encodeResponses(true, [])).toBeUndefined();
  });

  it('turns an undefined result into null and keeps error data', () => {
    expect(resultResponse(1, undefined)).toEqual({ jsonrpc: '2.0', id: 1, result: null });
    expect(errorResponse(1, 40, 'busy', { pid: 3 })).toEqual({ jsonrpc: '2.0', id: 1, error: { code: 40, message: 'busy', data: { pid: 3 } } });
  });
});
