import type { Logger } from 'pino';

/** What a verb knows about the request it serves. Built by the rpc layer. */
export interface RequestContext {
  /** the JSON-RPC id (null for a notification) */
  requestId: string | number | null;
  /** 'unix', '127.0.0.1:40522', ... */
  peer: string;
  /** TLS client certificate subject, when the listener is wss */
  certSubject?: string;
  /** child logger bound to the request id */
  log: Logger;
}
