/**
 * Child processes for the lock and crash tests. Node 20 cannot run TypeScript, so the store's
 * sources are transpiled once into a temporary folder that the children import.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');

/** Transpile src/errors.ts, src/faults.ts and src/store/*.ts; returns the folder (remove it with rm). */
export async function buildStore(): Promise<string> {
  const out = await mkdtemp(path.join(tmpdir(), 'hostnetd-store-js-'));
  await writeFile(path.join(out, 'package.json'), '{"type":"module"}\n');
  await mkdir(path.join(out, 'store'));
  const files = ['errors.ts', 'faults.ts', ...(await readdir(path.join(SRC, 'store'))).filter((f) => f.endsWith('.ts')).map((f) => `store/${f}`)];
  for (const f of files) {
    const src = await readFile(path.join(SRC, f), 'utf8');
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    await writeFile(path.join(out, f.replace(/\.ts$/, '.js')), js);
  }
  return out;
}

/** Run an ES module script (its text) with node; `built` is importable as BUILT in it. */
export function runScript(built: string, script: string, args: string[]): ChildProcess {
  const code = script.replaceAll('BUILT', JSON.stringify(built).slice(1, -1));
  return spawn(process.execPath, ['--input-type=module', '-e', code, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Resolves with the first stdout line matching `re`; rejects if the child exits first. */
export function waitForLine(child: ChildProcess, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => re.test(l));
      if (line !== undefined) {
        child.stdout?.off('data', onData);
        resolve(line);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before printing ${re}; stdout: ${buf} stderr: ${err}`)));
  });
}

export function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function removeBuild(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
