// Where a change's phases go: the requesting connection's own notify, only when it can hear them.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { progressSinkFor } from '../../../src/api/progress.js';
import type { RequestContext } from '../../../src/model/context.js';

const base = (over: Partial<RequestContext>): RequestContext => ({ requestId: 3, peer: 'unix', log: pino({ level: 'silent' }), ...over });

describe('progressSinkFor', () => {
  it('sends |net|progress|<id> through the connection that asked', () => {
    const sent: string[] = [];
    const sink = progressSinkFor(base({ events: { subscribe: () => undefined, unsubscribe: () => undefined, notify: (j) => (sent.push(j), true) } }));
    sink({ phase: 'applying', ops: 4 });
    sink({ phase: 'confirming', timeoutSeconds: 120 });
    const notes = sent.map((s) => JSON.parse(s) as { method: string; params: Record<string, unknown> });
    expect(notes.map((n) => n.method)).toEqual(['|net|progress|3', '|net|progress|3']);
    expect(notes[0]!.params).toMatchObject({ phase: 'applying', ops: 4, notify_time: expect.any(Number) });
    expect(notes[1]!.params).toMatchObject({ phase: 'confirming', timeoutSeconds: 120 });
  });

  it('is silent for a transport without notifications (STOMP) and for a JSON-RPC notification (no id to key it by)', () => {
    const sent: string[] = [];
    const events = { subscribe: () => undefined, unsubscribe: () => undefined, notify: (j: string) => (sent.push(j), true) };
    progressSinkFor(base({}))({ phase: 'planning' });
    progressSinkFor(base({ requestId: null, events }))({ phase: 'planning' });
    expect(sent).toEqual([]);
  });
});
