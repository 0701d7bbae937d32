/** A minimal JSON-RPC client over the daemon's unix socket, for the benchmarks. */
import WebSocket from 'ws';

export function connect(sock) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws+unix://${sock}:/`, { maxPayload: 1 << 30 });
    let id = 0;
    const waiting = new Map();
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data));
      waiting.get(msg.id)?.(msg);
      waiting.delete(msg.id);
    });
    ws.once('error', reject);
    ws.once('open', () => resolve({
      call: (method, params) => new Promise((res, rej) => {
        const myId = ++id;
        waiting.set(myId, (m) => (m.error ? rej(new Error(`${m.error.code}: ${m.error.message}`)) : res(m.result)));
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: myId, method, params }));
      }),
      close: () => ws.close(),
    }));
  });
}
