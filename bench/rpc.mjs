/**
 * The benchmarks' clients: the project's one JSON-RPC client (dist/rpc/client.js, built by
 * `npm run build`) over the daemon's unix socket, as WebSocket or as STOMP (the engine's way).
 */
import { RpcClient } from '../dist/rpc/client.js';

async function open(sock, protocol) {
  const client = await RpcClient.open({ url: `unix:${sock}`, protocol }, { maxPayload: 1 << 30 });
  return { call: (method, params) => client.call(method, params), close: () => client.close() };
}

export const connect = (sock) => open(sock, 'ws');
export const connectStomp = (sock) => open(sock, 'stomp');
