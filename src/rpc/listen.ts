/**
 * Listener addresses (--listen), pure: 'unix:/run/hostnetd/hostnetd.sock',
 * 'tcp://127.0.0.1:54321', 'tls://0.0.0.0:54321' (and their older names ws:// and wss://).
 * Every listener serves WebSocket and STOMP alike, told apart by the first bytes; the scheme
 * only says whether TLS comes first. Plain tcp:// and ws:// are refused off loopback: without
 * TLS anyone on the network could reconfigure the host.
 */
import { isIP } from 'node:net';
import { usageError } from '../errors.js';

export type ListenSpec =
  | { kind: 'unix'; path: string; url: string }
  | { kind: 'ws' | 'wss' | 'tcp' | 'tls'; host: string; port: number; url: string };

/** Whether a listener starts with a TLS handshake (client certificates required). */
export const isTlsListener = (spec: ListenSpec): boolean => spec.kind === 'wss' || spec.kind === 'tls';

const SCHEMES = ['ws', 'wss', 'tcp', 'tls'] as const;

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

export function parseListen(url: string): ListenSpec {
  if (url.startsWith('unix:')) {
    const path = url.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path.startsWith('/')) throw usageError(`--listen ${url}: a unix socket needs an absolute path (unix:/run/hostnetd/hostnetd.sock)`);
    return { kind: 'unix', path, url };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`--listen ${url}: not a URL; expected unix:PATH, tcp://ADDR:PORT, tls://ADDR:PORT, ws://ADDR:PORT or wss://ADDR:PORT`);
  }
  const kind = SCHEMES.find((s) => `${s}:` === parsed.protocol);
  if (kind === undefined) {
    throw usageError(`--listen ${url}: unknown scheme ${parsed.protocol}; expected unix:, tcp:, tls:, ws: or wss:`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  // URL drops a port equal to the scheme's default (ws:80, wss:443): recover it from the text
  const explicitPort = /^[a-z]+:\/\/(?:\[[^\]]*\]|[^/:]*):(\d+)/i.exec(url)?.[1];
  const port = Number(parsed.port || explicitPort);
  if (explicitPort === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw usageError(`--listen ${url}: a port is required (e.g. ${kind}://${parsed.hostname || '127.0.0.1'}:54321)`);
  }
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search || parsed.username) {
    throw usageError(`--listen ${url}: only ${kind}://ADDR:PORT is allowed (every path is accepted anyway)`);
  }
  if ((kind === 'ws' || kind === 'tcp') && !isLoopback(host)) {
    throw usageError(
      `refusing to listen on ${url}: plain ${kind}:// is allowed only on loopback addresses (127.0.0.1, ::1), ` +
        `because anyone who reaches it could reconfigure this host's network. ` +
        `Use tls://${parsed.host} with --tls-cert, --tls-key and --tls-ca (client certificates are required).`,
    );
  }
  return { kind, host, port, url };
}
