import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ErrorCode } from '../../../src/errors.js';
import { answerText } from '../../../src/rpc/codec.js';
import { Dispatcher } from '../../../src/rpc/dispatch.js';
import type { MethodTable } from '../../../src/rpc/methods.js';

const peer = { peer: 'unix', connId: 1, transport: 'ws' as const };

describe('a verb that outlives its time limit', () => {
  it('answers 105 (timed out) naming the verb and the limit, not -32603', async () => {
    let release!: () => void;
    const methods: MethodTable = {
      'Test.slow': { params: [], handler: () => new Promise<boolean>((r) => { release = () => r(true); }), timeoutMs: 50 },
      'Test.quick': { params: [], handler: () => true },
    };
    const d = new Dispatcher({ methods, log: pino({ level: 'silent' }), defaultTimeoutMs: 60_000 });
    const answer = JSON.parse(answerText((await d.handleFrame('{"jsonrpc":"2.0","id":1,"method":"Test.slow"}', peer))!));
    release();
    expect(ErrorCode.TIMED_OUT).toBe(105);
    expect(answer).toEqual({ jsonrpc: '2.0', id: 1, error: { code: 105, message: 'Test.slow did not finish within 0.05 s' } });
    const quick = JSON.parse(answerText((await d.handleFrame('{"jsonrpc":"2.0","id":2,"method":"Test.quick"}', peer))!));
    expect(quick).toEqual({ jsonrpc: '2.0', id: 2, result: true });
  });

  it('takes the default limit when the verb sets none', async () => {
    const methods: MethodTable = { 'Test.stuck': { params: [], handler: () => new Promise<never>(() => undefined) } };
    const d = new Dispatcher({ methods, log: pino({ level: 'silent' }), defaultTimeoutMs: 30 });
    const answer = JSON.parse(answerText((await d.handleFrame('{"jsonrpc":"2.0","id":"x","method":"Test.stuck"}', peer))!));
    expect(answer.error).toEqual({ code: ErrorCode.TIMED_OUT, message: 'Test.stuck did not finish within 0.03 s' });
  });
});
