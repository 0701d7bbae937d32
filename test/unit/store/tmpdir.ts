import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach } from 'vitest';

/** A fresh directory under os.tmpdir() for each call, removed after the test. */
export function useTmpDirs(): () => Promise<string> {
  const made: string[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'hostnetd-store-'));
    made.push(d);
    return d;
  };
}
