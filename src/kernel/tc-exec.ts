/**
 * Runs a change's hostQos lines as one `tc -batch -` (plan/qos.ts makes them). tc stops at the
 * first failing line and names it ("Command failed -:N"); with -force (a rollback) it goes on.
 * Fault point `tc-batch` (faults.ts): `line` fails that line, as the `batch` point does for ip.
 */
import { ErrorCode, HostnetError } from '../errors.js';
import { faultPoint, killSelf } from '../faults.js';
import { iprouteError, isIprouteError, type Iproute } from './iproute.js';

export async function executeTc(ipr: Iproute, lines: readonly string[], opts: { force?: boolean } = {}): Promise<void> {
  if (lines.length === 0) return;
  if (!ipr.tc) throw new Error('this Iproute runs no tc');
  for (const line of lines) assertLine(line);
  const args = [...(opts.force ? ['-force'] : []), '-batch', '-'];
  const input = (ls: readonly string[]) => ls.map((l) => `${l}\n`).join('');
  try {
    const fault = faultPoint('tc-batch', { lines: lines.length, force: opts.force === true });
    if (fault?.line !== undefined) {
      const k = fault.line;
      const run = opts.force && fault.action !== 'kill' ? lines.filter((_, i) => i !== k - 1) : lines.slice(0, k - 1);
      if (run.length) await ipr.tc(args, { input: input(run) }).catch(() => undefined);
      if (fault.action === 'kill') killSelf();
      throw iprouteError(['tc', ...args], 1, `Error: injected fault.\nCommand failed -:${k}`);
    }
    await ipr.tc(args, { input: input(lines) });
  } catch (e) {
    if (!isIprouteError(e)) throw e;
    const stderr = e.detail.stderr;
    const n = Number(/Command failed -:(\d+)/.exec(stderr)?.[1] ?? 0);
    const reason = stderr.split('\n').filter((l) => l && !l.startsWith('Command failed')).join('; ') || e.message;
    const line = n > 0 ? ` '${lines[n - 1]}'` : '';
    throw new HostnetError(ErrorCode.APPLY_FAILED, `kernel refused${line} (hostQos, tc line ${n} of ${lines.length}): ${reason}`, { cause: e });
  }
}

/** Every word comes from validated names and numbers; the one quoted word is the vlan match. */
function assertLine(line: string): void {
  if (!/^[A-Za-z0-9_.:\/+,\- ]*("meta\(vlan eq \d{1,4}\)")?[A-Za-z0-9_.:\/+,\- ]*$/.test(line)) {
    throw new Error(`refusing to put ${JSON.stringify(line)} in a tc batch`);
  }
}
