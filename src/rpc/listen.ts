/**
 * Listener addresses (--listen), pure: 'unix:/run/hostnetd/hostnetd.sock',
 * 'ws://127.0.0.1:4044', 'wss://0.0.0.0:54321'. Plain ws:// is refused off loopback: without
 * TLS anyone on the network could reconfigure the host.
 */
import { isIP } from 'node:net';

export type ListenSpec =
  | { kind: 'unix'; path: string; url: string }
  | { kind: 'ws' | 'wss'; host: string; port: number; url: string };

export class ListenError extends Error {}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

export function parseListen(url: string): ListenSpec {
  if (url.startsWith('unix:')) {
    const path = url.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path.startsWith('/')) throw new ListenError(`--listen ${url}: a unix socket needs an absolute path (unix:/run/hostnetd/hostnetd.sock)`);
    return { kind: 'unix', path, url };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ListenError(`--listen ${url}: not a URL; expected unix:PATH, ws://ADDR:PORT or wss://ADDR:PORT`);
  }
  const kind = parsed.protocol.slice(0, -1);
  if (kind !== 'ws' && kind !== 'wss') {
    throw new ListenError(`--listen ${url}: unknown scheme ${parsed.protocol}; expected unix:, ws: or wss:`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  // URL drops a port equal to the scheme's default (ws:80, wss:443): recover it from the text
  const explicitPort = /^[a-z]+:\/\/(?:\[[^\]]*\]|[^/:]*):(\d+)/i.exec(url)?.[1];
  const port = Number(parsed.port || explicitPort);
  if (explicitPort === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ListenError(`--listen ${url}: a port is required (e.g. ${kind}://${parsed.hostname || '127.0.0.1'}:54321)`);
  }
  if (parsed.pathname !== '/' || parsed.search || parsed.username) {
    throw new ListenError(`--listen ${url}: only ${kind}://ADDR:PORT is allowed (every path is accepted anyway)`);
  }
  if (kind === 'ws' && !isLoopback(host)) {
    throw new ListenError(
      `refusing to listen on ${url}: plain ws:// is allowed only on loopback addresses (127.0.0.1, ::1), ` +
        `because anyone who reaches it could reconfigure this host's network. ` +
        `Use wss://${parsed.host} with --tls-cert, --tls-key and --tls-ca (client certificates are required).`,
    );
  }
  return { kind, host, port, url };
}
