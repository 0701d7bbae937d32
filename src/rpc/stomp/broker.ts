/**
 * The daemon's STOMP subscriptions, across connections, as VDSM's broker keeps them in one
 * global map: an answer may go to a subscription another connection made (the engine can
 * subscribe on one connection and send on another), and events go to every subscriber of
 * their destination.
 */
import { framePieces } from './frame.js';

/** What the broker needs of a connection. */
export interface Subscriber {
  /** a number unique within this daemon's lifetime */
  readonly connId: number;
  /** queues one encoded frame (or its pieces, written back to back); false when the connection is gone */
  sendFrame(frame: Buffer | readonly Buffer[]): boolean;
}

export interface Subscription {
  id: string;
  destination: string;
  owner: Subscriber;
}

export const REQUEST_DESTINATIONS = ['jms.topic.vdsm_requests', 'jms.topic.vdsm_irs_requests'];
export const DEFAULT_REPLY_TO = 'jms.topic.vdsm_responses';
export const EVENTS_DESTINATION = 'jms.queue.events';

/** A request queue itself or one below it ('jms.topic.vdsm_requests.x'), as VDSM matches them. */
export const isRequestDestination = (d: string): boolean =>
  REQUEST_DESTINATIONS.some((q) => d === q || d.startsWith(`${q}.`));

export class Broker {
  /** destination → subscriptions, oldest first */
  private readonly byDestination = new Map<string, Subscription[]>();

  add(sub: Subscription): void {
    const list = this.byDestination.get(sub.destination);
    if (list) list.push(sub);
    else this.byDestination.set(sub.destination, [sub]);
  }

  remove(sub: Subscription): void {
    const list = this.byDestination.get(sub.destination);
    if (!list) return;
    const left = list.filter((s) => s !== sub);
    if (left.length > 0) this.byDestination.set(sub.destination, left);
    else this.byDestination.delete(sub.destination);
  }

  /** Where an answer to `destination` goes: the asker's own subscription first, else any. */
  replyTarget(destination: string, asker: Subscriber): Subscription | undefined {
    const list = this.byDestination.get(destination);
    if (!list) return undefined;
    return list.find((s) => s.owner === asker) ?? list[0];
  }

  /**
   * Subscribers of a destination and of its parents ('a.b.c' reaches subscribers of 'a.b'
   * and 'a'), as VDSM's find_subscribers.
   */
  subscribersOf(destination: string): Subscription[] {
    const parts = destination.split('.');
    const found: Subscription[] = [];
    for (let n = 1; n <= parts.length; n++) found.push(...(this.byDestination.get(parts.slice(0, n).join('.')) ?? []));
    return found;
  }

  /** Sends a JSON body to every subscriber of `destination`; how many got it. */
  publish(destination: string, json: string, extraHeaders: [string, string][] = []): number {
    let sent = 0;
    for (const sub of this.subscribersOf(destination)) {
      if (sub.owner.sendFrame(messageFrame(sub, json, extraHeaders))) sent++;
    }
    return sent;
  }
}

/** A MESSAGE for one subscription; clients drop one whose subscription id they do not know. */
export function messageFrame(sub: Subscription, body: string | Buffer | readonly Buffer[], extraHeaders: [string, string][] = []): Buffer[] {
  const own = new Map<string, string>([
    ['destination', sub.destination],
    ['subscription', sub.id],
    ['content-type', 'application/json'],
  ]);
  // a forwarded SEND keeps its own headers, except those that route it (its content-type wins)
  for (const [k, v] of extraHeaders) if (k !== 'destination' && k !== 'subscription') own.set(k, v);
  return framePieces('MESSAGE', own, typeof body === 'string' ? [Buffer.from(body, 'utf8')] : Buffer.isBuffer(body) ? [body] : body);
}
