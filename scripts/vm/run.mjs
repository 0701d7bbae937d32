// Human entry to the VM tier (scripts/vm/run.sh wraps it). Node 20 cannot run TypeScript, so
// this transpiles test/vm/vm.ts (which imports only node builtins) into the VM cache folder
// once per change and imports it.
//
//   scripts/vm/run.sh [--nics N] [--share DIR] [--timeout SEC] [--mem MB] [--env K=V]... [-- CMD...]
// Without CMD: a shell on the serial console (leave with `exit`, or Ctrl-A x).
// Exit status: the command's; 124 on timeout; 125 when the guest reported none.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function usage(message) {
  if (message) console.error(`run.sh: ${message}`);
  console.error('usage: scripts/vm/run.sh [--nics N] [--share DIR] [--timeout SEC] [--mem MB] [--env K=V]... [-- CMD...]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { nics: 1, timeoutMs: 10 * 60_000, env: {}, command: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => argv[++i] ?? usage(`${arg} needs a value`);
    switch (arg) {
      case '--nics': opts.nics = Number(value()); break;
      case '--share': opts.shareDir = value(); break;
      case '--timeout': opts.timeoutMs = Number(value()) * 1000; break;
      case '--mem': opts.memoryMb = Number(value()); break;
      case '--env': {
        const kv = value();
        const eq = kv.indexOf('=');
        if (eq <= 0) usage(`--env wants K=V, got ${kv}`);
        opts.env[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      case '--': opts.command = argv.slice(i + 1); i = argv.length; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${arg}`);
    }
  }
  if (opts.command && opts.command.length === 0) opts.command = undefined;
  return opts;
}

async function loadRunner() {
  const source = join(repo, 'test/vm/vm.ts');
  const cacheDir = join(process.env.HOSTNETD_VM_CACHE ?? join(repo, '.cache/vm'), 'cli');
  const target = join(cacheDir, 'vm.mjs');
  const fresh = await stat(target).then((t) => stat(source).then((s) => t.mtimeMs >= s.mtimeMs), () => false);
  if (!fresh) {
    const { default: ts } = await import('typescript');
    const out = ts.transpileModule(await readFile(source, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    // import.meta.url must still resolve the repo: vm.ts derives it from its own location.
    const code = out.outputText.replace(
      "new URL('../../', import.meta.url)",
      JSON.stringify(pathToFileURL(repo + '/').href),
    );
    await mkdir(cacheDir, { recursive: true });
    await writeFile(target, code);
  }
  return import(pathToFileURL(target).href);
}

const opts = parseArgs(process.argv.slice(2));
const { runInVm } = await loadRunner();
const result = await runInVm({
  ...opts,
  command: opts.command ?? [],
  interactive: opts.command === undefined,
  onConsole: (chunk) => process.stdout.write(chunk),
});
if (result.timedOut) {
  console.error(`run.sh: timed out after ${opts.timeoutMs / 1000}s`);
  process.exit(124);
}
console.error(`run.sh: ${(result.durationMs / 1000).toFixed(1)}s, exit status ${result.exitCode ?? 'none (see console)'}`);
process.exit(result.exitCode ?? 125);
