/** Minimal JSON-RPC clients over the daemon's unix socket (WebSocket and STOMP), for the benchmarks. */
import net from 'node:net';
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

/**
 * The same over STOMP 1.2, as the engine speaks it: SUBSCRIBE to a reply destination, CONNECT,
 * then each call a SEND to jms.topic.vdsm_requests answered by a MESSAGE. Frames are parsed
 * by content-length (the daemon always sends it).
 */
export function connectStomp(sock) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: sock });
    let id = 0;
    let buf = Buffer.alloc(0);
    let onConnected;
    const waiting = new Map();
    s.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        while (buf.length && buf[0] === 0x0a) buf = buf.subarray(1);
        const end = buf.indexOf('\n\n');
        if (end === -1) return;
        const head = buf.subarray(0, end).toString();
        const len = /\ncontent-length:(\d+)/.exec(head);
        const bodyEnd = len ? end + 2 + Number(len[1]) : buf.indexOf(0, end + 2);
        if (bodyEnd === -1 || buf.length < bodyEnd + 1) return;
        const body = buf.subarray(end + 2, bodyEnd).toString();
        buf = buf.subarray(bodyEnd + 1);
        if (head.startsWith('CONNECTED')) onConnected?.();
        else if (head.startsWith('ERROR')) reject(new Error(body));
        else if (head.startsWith('MESSAGE')) {
          const msg = JSON.parse(body);
          waiting.get(msg.id)?.(msg);
          waiting.delete(msg.id);
        }
      }
    });
    s.once('error', reject);
    s.once('connect', () => {
      s.write('SUBSCRIBE\ndestination:bench-replies\nid:1\n\n\0CONNECT\naccept-version:1.2\nheart-beat:0,15000\n\n\0');
      onConnected = () => resolve({
        call: (method, params) => new Promise((res, rej) => {
          const myId = ++id;
          waiting.set(myId, (m) => (m.error ? rej(new Error(`${m.error.code}: ${m.error.message}`)) : res(m.result)));
          const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: myId, method, params }));
          s.write(Buffer.concat([Buffer.from(`SEND\ndestination:jms.topic.vdsm_requests\nreply-to:bench-replies\ncontent-length:${body.length}\n\n`), body, Buffer.from([0])]));
        }),
        close: () => s.end(),
      });
    });
  });
}
