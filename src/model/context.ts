import type { Logger } from 'pino';
import type { ProgressSink } from './progress.js';

/** A connection's opt-in to the host's notifications (Host.subscribeEvents); given by the transport. */
export interface EventSubscription {
  subscribe(): void;
  unsubscribe(): void;
  /** sends one notification to this connection alone if it opted in; false when it did not (or is gone) */
  notify(json: string): boolean;
}

/** What a verb knows about the request it serves. Built by the rpc layer. */
export interface RequestContext {
  /** the JSON-RPC id (null for a notification) */
  requestId: string | number | null;
  /** 'unix', '127.0.0.1:40522', ... */
  peer: string;
  /** TLS client certificate subject, when the listener is tls:// or wss:// */
  certSubject?: string;
  /** the host address the client connected to (absent on the unix socket) */
  localAddress?: string;
  /** 'ws' or 'stomp' */
  transport?: string;
  /** present where the transport can deliver notifications to this connection */
  events?: EventSubscription;
  /** child logger bound to the request id */
  log: Logger;
  /**
   * where a change reports its phases; set by the verb (Host.setupNetworks) for a requester that
   * can hear them. In the context, not a parameter, so every wrapper of the changer passes it on.
   */
  progress?: ProgressSink;
}
