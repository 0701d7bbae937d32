/**
 * Which protocol a connection speaks, from its first bytes (after TLS), as VDSM's protocol
 * detector does on port 54321: an HTTP request line goes to the WebSocket upgrade, a STOMP
 * command to STOMP. Pure.
 *
 *   detectProtocol(Buffer.from('GET / HTTP/1.1\r\n'))  → 'http'
 *   detectProtocol(Buffer.from('CONNECT\naccept'))     → 'stomp'
 *   detectProtocol(Buffer.from('CONN'))                → 'more'
 *   detectProtocol(Buffer.from('\x16\x03\x01'))        → 'unknown'
 */

export type Detected = 'http' | 'stomp' | 'unknown' | 'more';

/** What a client may send first: STOMP's client frames (the engine may SUBSCRIBE before CONNECT). */
const STOMP_FIRST = ['CONNECT', 'STOMP', 'SUBSCRIBE', 'SEND', 'UNSUBSCRIBE', 'DISCONNECT'];
const HTTP_FIRST = ['GET', 'PUT', 'POST', 'HEAD', 'OPTIONS', 'DELETE', 'PATCH'];

export function detectProtocol(first: Buffer): Detected {
  // heart-beat EOLs may come before a STOMP client's first frame
  let start = 0;
  while (start < first.length && (first[start] === 0x0a || first[start] === 0x0d)) start++;
  const head = first.subarray(start, start + 16).toString('latin1');
  let undecided = false;
  for (const [protocol, words, after] of [
    ['stomp', STOMP_FIRST, /^[\r\n]/],
    ['http', HTTP_FIRST, /^ /],
  ] as const) {
    for (const word of words) {
      if (head.length <= word.length) {
        if (word.startsWith(head)) undecided = true;
        continue;
      }
      if (head.startsWith(word) && after.test(head.slice(word.length))) return protocol;
    }
  }
  return undecided || head.length === 0 ? 'more' : 'unknown';
}
