import { describe, expect, it } from 'vitest';
import { Broker, isRequestDestination, type Subscriber } from '../../../../src/rpc/stomp/broker.js';
import { FrameParser } from '../../../../src/rpc/stomp/frame.js';

function conn(connId: number): Subscriber & { frames: () => { command: string; headers: Record<string, string>; body: string }[] } {
  const parser = new FrameParser(1 << 20);
  const got: { command: string; headers: Record<string, string>; body: string }[] = [];
  return {
    connId,
    sendFrame(frame: Buffer | readonly Buffer[]) {
      for (const f of parser.push(Buffer.isBuffer(frame) ? frame : Buffer.concat(frame))) got.push({ command: f.command, headers: Object.fromEntries(f.headers), body: f.body.toString() });
      return true;
    },
    frames: () => got,
  };
}

describe('Broker', () => {
  it('routes an answer to the asker own subscription first, else to another connection one', () => {
    const b = new Broker();
    const a = conn(1);
    const other = conn(2);
    b.add({ id: 'o', destination: 'jms.topic.vdsm_responses', owner: other });
    expect(b.replyTarget('jms.topic.vdsm_responses', a)?.id).toBe('o');
    b.add({ id: 'mine', destination: 'jms.topic.vdsm_responses', owner: a });
    expect(b.replyTarget('jms.topic.vdsm_responses', a)?.id).toBe('mine');
    expect(b.replyTarget('nobody', a)).toBeUndefined();
  });

  it('publishes to subscribers of the destination and its parents, with their subscription ids and content-length', () => {
    const b = new Broker();
    const a = conn(1);
    const c = conn(2);
    b.add({ id: 'ev', destination: 'jms.queue.events', owner: a });
    b.add({ id: 'all', destination: 'jms.queue', owner: c });
    b.add({ id: 'x', destination: 'jms.queue.eventsX', owner: c });
    expect(b.publish('jms.queue.events', '{"a":1}')).toBe(2);
    expect(a.frames()).toEqual([{ command: 'MESSAGE', headers: { destination: 'jms.queue.events', subscription: 'ev', 'content-type': 'application/json', 'content-length': '7' }, body: '{"a":1}' }]);
    expect(c.frames().map((f) => f.headers.subscription)).toEqual(['all']);
  });

  it('forgets removed subscriptions', () => {
    const b = new Broker();
    const a = conn(1);
    const sub = { id: '1', destination: 'd', owner: a };
    b.add(sub);
    b.remove(sub);
    expect(b.publish('d', '{}')).toBe(0);
    expect(b.subscribersOf('d')).toEqual([]);
  });

  it('knows the request queues', () => {
    expect(isRequestDestination('jms.topic.vdsm_requests')).toBe(true);
    expect(isRequestDestination('jms.topic.vdsm_irs_requests')).toBe(true);
    expect(isRequestDestination('jms.topic.vdsm_requests.sub')).toBe(true);
    expect(isRequestDestination('jms.topic.vdsm_requestsX')).toBe(false);
    expect(isRequestDestination('jms.topic.vdsm_responses')).toBe(false);
  });
});
