// Helpers of the systemd VM suite (test/vm/systemd.test.ts): systemctl, journalctl, hostnetctl.
import { execa } from 'execa';

/** `systemctl show -p P1 -p P2 unit` as a Map. */
export async function show(unit: string, ...props: string[]): Promise<Map<string, string>> {
  const { stdout } = await execa('systemctl', ['show', ...props.flatMap((p) => ['-p', p]), unit]);
  return new Map(stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

export async function prop(unit: string, name: string): Promise<string> {
  return (await show(unit, name)).get(name) ?? '';
}

/** Waits for a unit's state (systemd's own record), up to timeoutMs. */
export async function waitUnit(unit: string, pred: (m: Map<string, string>) => boolean, props: string[], timeoutMs = 120_000): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await show(unit, ...props);
    if (pred(m)) return m;
    if (Date.now() > deadline) throw new Error(`${unit} never reached the state; last ${JSON.stringify([...m])}`);
    // systemctl itself is the wait: one call takes tens of ms under TCG
  }
}

/** What a program logged to the journal (by its syslog identifier), one entry per line. */
export async function journal(identifier: string): Promise<string[]> {
  const { stdout } = await execa('journalctl', ['--no-pager', '-o', 'cat', '-t', identifier]);
  return stdout.split('\n').filter((l) => l.length > 0);
}

export function hostnetctl(...args: string[]) {
  return execa('/usr/bin/hostnetctl', args, { reject: false });
}
