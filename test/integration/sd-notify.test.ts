/**
 * Type=notify readiness outside systemd: the daemon started with $NOTIFY_SOCKET sends READY=1
 * through its native sd_notify addon, from its own PID, once its socket accepts, and STOPPING=1
 * on SIGTERM. The receiving end is a unix datagram socket held by Debian's python3 (Node has no
 * unix datagram sockets), printing each datagram with the sender's PID (SO_PASSCRED).
 * Under a real systemd: test/vm/systemd.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RpcTestClient } from '../helpers/rpc-client.js';

const RECEIVER = `
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = next((struct.unpack("iII", d)[0] for (l, t, d) in anc if t == socket.SCM_CREDENTIALS), -1)
    print(pid, data.decode(), flush=True)
`;

let dir: string;
let receiver: ChildProcess;
const received: { pid: number; state: string }[] = [];
let daemon: TestDaemon;

function waitFor(state: string): Promise<{ pid: number; state: string }> {
  return new Promise((resolve) => {
    const check = () => {
      const hit = received.find((r) => r.state === state);
      if (hit) resolve(hit);
      else setTimeout(check, 20);
    };
    check();
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hostnetd-notify-'));
  const socket = path.join(dir, 'notify.sock');
  receiver = spawn('/usr/bin/python3', ['-c', RECEIVER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: receiver.stdout! });
  await new Promise<void>((resolve) => {
    lines.on('line', (line) => {
      if (line === 'bound') return resolve();
      const space = line.indexOf(' ');
      received.push({ pid: Number(line.slice(0, space)), state: line.slice(space + 1) });
    });
  });
  process.env['NOTIFY_SOCKET'] = socket;
  daemon = await startTestDaemon({ args: ['--libvirt-uri', 'none'], waitReady: false });
  delete process.env['NOTIFY_SOCKET'];
});
afterAll(async () => {
  await daemon?.cleanup();
  receiver?.kill();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('sd_notify', () => {
  it('sends READY=1 from the daemon\'s own PID once the socket accepts, and STOPPING=1 on SIGTERM', async () => {
    const ready = await waitFor('READY=1');
    expect(ready.pid).toBe(daemon.proc.pid);
    // the listeners were up before READY=1 was sent: the first connection succeeds at once
    const client = await RpcTestClient.connect({ socket: daemon.socket });
    expect(await client.call('Host.ping2')).toBe(true);
    await client.close();
    expect(daemon.logs.some((l) => l.event === 'sd-notify-failed')).toBe(false);
    await daemon.stop('SIGTERM');
    expect((await waitFor('STOPPING=1')).pid).toBe(ready.pid);
    expect(received.map((r) => r.state)).toEqual(['READY=1', 'STOPPING=1']);
  });
});
