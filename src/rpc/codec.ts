/**
 * JSON-RPC 2.0 framing, pure: one WebSocket text frame in, requests (or ready-made error
 * responses) out; responses in, one frame out. Nothing here knows about methods or transports.
 *
 * Example:
 *   decodeFrame('{"jsonrpc":"2.0","id":1,"method":"Host.ping2"}')
 *     → { batch: false, items: [{ ok: true, request: { id: 1, method: 'Host.ping2', params: undefined, notification: false } }] }
 */
import { ErrorCode } from '../errors.js';
import { isPlainObject } from '../model/dict.js';

export type RequestId = string | number | null;

export interface RpcRequest {
  id: RequestId;
  method: string;
  /** undefined (left out), a named object or a positional array */
  params: Record<string, unknown> | unknown[] | undefined;
  /** no id member: the client wants no answer */
  notification: boolean;
}

export interface RpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

export type RpcResponse =
  | { jsonrpc: '2.0'; id: RequestId; result: unknown }
  | { jsonrpc: '2.0'; id: RequestId; error: RpcErrorBody };

/** One element of a frame: a request to run, or an answer already decided (a malformed element). */
export type FrameItem = { ok: true; request: RpcRequest } | { ok: false; response: RpcResponse };

export interface DecodedFrame {
  batch: boolean;
  items: FrameItem[];
}

export const errorResponse = (id: RequestId, code: number, message: string, data?: unknown): RpcResponse => ({
  jsonrpc: '2.0',
  id,
  error: data === undefined ? { code, message } : { code, message, data },
});

export const resultResponse = (id: RequestId, result: unknown): RpcResponse => ({
  jsonrpc: '2.0',
  id,
  // JSON has no undefined: a verb that returns nothing answers null
  result: result === undefined ? null : result,
});


const isValidId = (v: unknown): v is RequestId =>
  v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

/** Checks one decoded JSON value against the request object's shape (spec section 4). */
export function decodeRequest(value: unknown): FrameItem {
  const invalid = (id: RequestId, why: string): FrameItem => ({
    ok: false,
    response: errorResponse(id, ErrorCode.INVALID_REQUEST, `Invalid Request: ${why}`),
  });
  if (!isPlainObject(value)) return invalid(null, 'expected a JSON object');
  // answer with the client's id when it is usable, so it can match the error to its request
  const hasId = Object.prototype.hasOwnProperty.call(value, 'id');
  const id = hasId && isValidId(value.id) ? value.id : null;
  if (hasId && !isValidId(value.id)) return invalid(null, 'id must be a string, a number or null');
  if (value.jsonrpc !== '2.0') return invalid(id, 'jsonrpc must be "2.0"');
  if (typeof value.method !== 'string' || value.method.length === 0) return invalid(id, 'method must be a non-empty string');
  const params = value.params;
  if (params !== undefined && !isPlainObject(params) && !Array.isArray(params)) {
    return invalid(id, 'params must be an object or an array');
  }
  return {
    ok: true,
    request: { id, method: value.method, params: params as RpcRequest['params'], notification: !hasId },
  };
}

/**
 * Most requests one batch may carry: a frame of tens of thousands of tiny requests would keep
 * the event loop busy for everyone else.
 */
export const MAX_BATCH = 1000;

/** Decodes one frame: a single request or a batch. Malformed JSON is one -32700 answer. */
export function decodeFrame(text: string, maxBatch = MAX_BATCH): DecodedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { batch: false, items: [{ ok: false, response: errorResponse(null, ErrorCode.PARSE_ERROR, `Parse error: ${why}`) }] };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      return {
        batch: false,
        items: [{ ok: false, response: errorResponse(null, ErrorCode.INVALID_REQUEST, 'Invalid Request: empty batch') }],
      };
    }
    if (value.length > maxBatch) {
      const why = `Invalid Request: a batch of ${value.length} requests is over the limit of ${maxBatch}`;
      return { batch: false, items: [{ ok: false, response: errorResponse(null, ErrorCode.INVALID_REQUEST, why) }] };
    }
    return { batch: true, items: value.map((v) => decodeRequest(v)) };
  }
  return { batch: false, items: [decodeRequest(value)] };
}

/**
 * An encoded answer: a string, or the UTF-8 pieces of one text message when a result is frozen
 * (below). Both transports send the pieces as one message without joining them.
 */
export type Answer = string | readonly Buffer[];

/**
 * The frame to send back, or undefined when nothing is owed (only notifications).
 * A batch is answered by an array, a single request by an object.
 */
export function encodeResponses(batch: boolean, responses: RpcResponse[]): Answer | undefined {
  if (responses.length === 0) return undefined;
  if (!batch) return encodeResponse(responses[0]!);
  const parts = responses.map(encodeResponse);
  if (parts.every((p) => typeof p === 'string')) return `[${parts.join(',')}]`;
  return parts.flatMap((p, i) => [Buffer.from(i === 0 ? '[' : ','), ...(typeof p === 'string' ? [Buffer.from(p)] : p)]).concat(Buffer.from(']'));
}

/** An answer as one string (tests, and transports that need one text). */
export const answerText = (a: Answer): string => (typeof a === 'string' ? a : Buffer.concat(a).toString('utf8'));

/**
 * A frozen result cannot change, so its JSON is made once, as UTF-8 bytes, and sent as they are:
 * capabilities at 1000 networks are 2 MB, and the API hands out the same frozen answer until the
 * host changes. Measured per answer at that size: the UTF-8 length and encoding of the string
 * ~11 ms each (the WebSocket did both), even one copy of the bytes into a fresh buffer ~10 ms
 * (page faults on this VM); the pieces cost nothing.
 */
const encodedResults = new WeakMap<object, Buffer>();

function encodeResponse(r: RpcResponse): Answer {
  if (!('result' in r) || r.result === null || typeof r.result !== 'object' || !Object.isFrozen(r.result)) return JSON.stringify(r);
  let body = encodedResults.get(r.result);
  if (body === undefined) {
    body = Buffer.from(JSON.stringify(r.result));
    encodedResults.set(r.result, body);
  }
  return [Buffer.from(`{"jsonrpc":"2.0","id":${JSON.stringify(r.id)},"result":`), body, Buffer.from('}')];
}
