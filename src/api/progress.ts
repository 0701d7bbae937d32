/**
 * A change's phases as JSON-RPC notifications to the connection that asked for the change, in
 * VDSM's event shape (`<receiver>|<component>|<operation>|<id>`, params with `notify_time`):
 *
 *   {"jsonrpc": "2.0", "method": "|net|progress|7", "params": {"phase": "applying", "ops": 12, "notify_time": 5211}}
 *
 * Only a connection that opted in (Host.subscribeEvents) gets them, and only its own: the id
 * is unique per connection only, and the engine, which subscribes to every event over STOMP,
 * never sees an event it does not know.
 */
import type { ChangePhase, ProgressSink } from '../model/progress.js';
import { noProgress, progressMethod } from '../model/progress.js';
import type { RequestContext } from '../model/context.js';
import { monotonicMs } from './events.js';

/** One phase as the notification's text. */
export function progressNotification(id: string | number, p: ChangePhase, now: number = monotonicMs()): string {
  return JSON.stringify({ jsonrpc: '2.0', method: progressMethod(id), params: { ...p, notify_time: now } });
}

/** Where a request's progress goes: its own connection when it subscribed to events, else nowhere. */
export function progressSinkFor(ctx: RequestContext): ProgressSink {
  const events = ctx.events;
  const id = ctx.requestId;
  if (!events || id === null) return noProgress;
  return (p) => {
    events.notify(progressNotification(id, p));
  };
}
