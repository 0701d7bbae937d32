/**
 * STOMP 1.2 frames, pure: a streaming parser (bytes in, frames out, any split or merge of
 * frames across reads) and the encoder. Nothing here knows about sockets or JSON-RPC.
 *
 *   const p = new FrameParser(16 << 20);
 *   p.push(Buffer.from('CONNECT\naccept-version:1.2\n\n\0'));  // → [{ command: 'CONNECT', headers: Map { ... }, body: <Buffer > }]
 *   encodeFrame('CONNECTED', [['version', '1.2']]);            // → Buffer 'CONNECTED\nversion:1.2\n\n\0'
 *
 * Clients we must understand: the engine's Java client, VDSM's python client and stomp.py send
 * `content-length` on SEND; others end the body with NUL only. Both are honoured.
 */
import { ErrorCode, HostnetError } from '../../errors.js';

export const COMMANDS = [
  'CONNECT', 'STOMP', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT',
  'CONNECTED', 'MESSAGE', 'RECEIPT', 'ERROR',
] as const;

export interface StompFrame {
  command: string;
  /** first occurrence wins (spec: repeated headers keep the first value) */
  headers: Map<string, string>;
  body: Buffer;
}

/** A frame the peer sent that cannot be read; the connection is answered ERROR and closed. */
const frameError = (msg: string) => new HostnetError(ErrorCode.BAD_FRAME, msg);

/** Longest header block we accept; a frame's body is bounded by maxFrameBytes. */
const MAX_HEADER_BYTES = 64 * 1024;

const ESCAPES: Record<string, string> = { '\\\\': '\\', '\\n': '\n', '\\r': '\r', '\\c': ':' };

export function unescapeHeader(raw: string): string {
  return raw.replace(/\\(.?)/g, (seq) => {
    const plain = ESCAPES[seq];
    if (plain === undefined) throw frameError(`header ${JSON.stringify(raw)} has an undefined escape ${JSON.stringify(seq)}`);
    return plain;
  });
}

export function escapeHeader(value: string): string {
  return value.replace(/[\\\r\n:]/g, (c) => (c === '\\' ? '\\\\' : c === '\r' ? '\\r' : c === '\n' ? '\\n' : '\\c'));
}

/** A frame on the wire; a body gets its content-length (clients need it on MESSAGE). */
export function encodeFrame(command: string, headers: Iterable<readonly [string, string]>, body?: Buffer | string): Buffer {
  return Buffer.concat(framePieces(command, headers, body === undefined ? undefined : [Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]));
}

/** A frame as pieces to write back to back: a large body is never copied into a frame buffer. */
export function framePieces(command: string, headers: Iterable<readonly [string, string]>, body?: readonly Buffer[]): Buffer[] {
  let head = `${command}\n`;
  for (const [k, v] of headers) {
    if (k === 'content-length') continue;
    head += `${escapeHeader(k)}:${escapeHeader(v)}\n`;
  }
  if (body !== undefined) head += `content-length:${body.reduce((n, b) => n + b.length, 0)}\n`;
  head += '\n';
  return [Buffer.from(head, 'utf8'), ...(body ?? []), NUL];
}

const NUL = Buffer.from([0]);

/** The heart-beat frame: a lone end-of-line between frames. */
export const HEARTBEAT = Buffer.from('\n');

type State =
  | { at: 'command' }
  | { at: 'body'; frame: StompFrame; length: number | undefined };

export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  private state: State = { at: 'command' };

  /** @param maxFrameBytes the largest frame (headers and body) accepted */
  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes buffered but not yet part of a whole frame. */
  get pending(): number {
    return this.buf.length;
  }

  /** Feeds bytes; returns the frames completed by them. Throws a BAD_FRAME HostnetError on a malformed frame. */
  push(chunk: Buffer): StompFrame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: StompFrame[] = [];
    for (;;) {
      const frame = this.state.at === 'command' ? this.readHead() : this.readBody(this.state);
      if (frame === 'more') break;
      if (frame !== 'continue') frames.push(frame);
    }
    if (this.buf.length > this.maxFrameBytes) {
      throw frameError(`frame larger than ${this.maxFrameBytes} bytes`);
    }
    return frames;
  }

  private readHead(): 'more' | 'continue' {
    // end-of-lines between frames are heart-beats
    let start = 0;
    while (start < this.buf.length && (this.buf[start] === 0x0a || this.buf[start] === 0x0d)) start++;
    if (start > 0) this.buf = this.buf.subarray(start);
    if (this.buf.length === 0) return 'more';
    const end = headEnd(this.buf);
    if (end === -1) {
      if (this.buf.length > MAX_HEADER_BYTES) throw frameError(`frame headers longer than ${MAX_HEADER_BYTES} bytes`);
      return 'more';
    }
    const lines = this.buf.subarray(0, end.at).toString('utf8').split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    this.buf = this.buf.subarray(end.at + end.size);
    const command = lines[0]!;
    if (!(COMMANDS as readonly string[]).includes(command)) {
      throw frameError(`unknown command ${JSON.stringify(command.slice(0, 32))}`);
    }
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw frameError(`malformed header line ${JSON.stringify(line.slice(0, 64))} in ${command}`);
      const key = unescapeHeader(line.slice(0, colon));
      if (!headers.has(key)) headers.set(key, unescapeHeader(line.slice(colon + 1)));
    }
    const frame: StompFrame = { command, headers, body: Buffer.alloc(0) };
    const cl = headers.get('content-length');
    let length: number | undefined;
    if (cl !== undefined) {
      if (!/^\d{1,12}$/.test(cl)) throw frameError(`content-length ${JSON.stringify(cl)} is not a number`);
      length = Number(cl);
      if (length > this.maxFrameBytes) throw frameError(`frame larger than ${this.maxFrameBytes} bytes (content-length ${length})`);
    }
    this.state = { at: 'body', frame, length };
    return 'continue';
  }

  private readBody(state: Extract<State, { at: 'body' }>): StompFrame | 'more' {
    let bodyEnd: number;
    if (state.length !== undefined) {
      if (this.buf.length < state.length + 1) return 'more';
      if (this.buf[state.length] !== 0) throw frameError(`${state.frame.command}: body does not end with NUL after content-length bytes`);
      bodyEnd = state.length;
    } else {
      bodyEnd = this.buf.indexOf(0);
      if (bodyEnd === -1) return 'more';
    }
    // copy: the frame outlives the read buffer it came in
    state.frame.body = Buffer.from(this.buf.subarray(0, bodyEnd));
    this.buf = this.buf.subarray(bodyEnd + 1);
    this.state = { at: 'command' };
    return state.frame;
  }
}

/** Where the header block ends: the first blank line (LF LF or CRLF CRLF, mixed allowed). */
function headEnd(buf: Buffer): { at: number; size: number } | -1 {
  for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) {
    if (buf[i + 1] === 0x0a) return { at: i, size: 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { at: i, size: 3 };
  }
  return -1;
}
