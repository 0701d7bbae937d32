/**
 * Tests that start and stop the machine's libvirtd must not overlap (vitest runs files in
 * parallel): a cross-process mutex, a directory made atomically by mkdir, with the holder's pid
 * so a lock left by a killed test run is taken over.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';

const LOCK = '/run/hostnetd-test-libvirtd.lock';

function holderAlive(): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(`${LOCK}/pid`, 'utf8'));
  } catch {
    // made but not yet signed: its maker is between mkdir and writeFile
    try {
      return Date.now() - statSync(LOCK).mtimeMs < 5000;
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function lockLibvirtd(timeoutMs = 15 * 60_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(`${LOCK}/pid`, String(process.pid));
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch {
      if (!holderAlive()) {
        rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${LOCK}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
