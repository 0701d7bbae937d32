/**
 * hostnetctl's view of a long change: the daemon's phase notifications (`|net|progress|<id>`,
 * src/api/progress.ts) as lines on the terminal, one per phase, the waits with a countdown that
 * rewrites its own line each second. Nothing appears for a change answered within `delayMs`
 * (a second), so quick changes print what they always printed; a slower one shows the phases
 * it went through so far, then each as it starts. Nothing ever appears on a pipe or with
 * --json, whose output is for programs.
 *
 *   const view = new ProgressView((s) => process.stdout.write(s));
 *   view.start();  view.phase({ phase: 'applying', ops: 12 });  ...;  view.finish();
 */
import type { ChangePhase } from '../model/progress.js';

/** Progress is for a person: stdout a terminal, and no --json. */
export function showsProgress(o: { isTTY: boolean | undefined; json: boolean }): boolean {
  return o.isTTY === true && !o.json;
}

/** The phase carried by a notification's params, or undefined for anything this CLI does not know. */
export function phaseOf(params: unknown): ChangePhase | undefined {
  if (typeof params !== 'object' || params === null) return undefined;
  const p = params as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  switch (p.phase) {
    case 'planning':
    case 'verifying':
    case 'committing':
      return { phase: p.phase };
    case 'applying':
      return { phase: 'applying', ops: num(p.ops) ?? 0 };
    case 'dhcp':
      return { phase: 'dhcp', networks: Array.isArray(p.networks) ? p.networks.map(String) : [], timeoutSeconds: num(p.timeoutSeconds) ?? 0 };
    case 'confirming':
      return { phase: 'confirming', timeoutSeconds: num(p.timeoutSeconds) ?? 0 };
    case 'rolling-back': {
      const code = num(p.code);
      return code === undefined ? { phase: 'rolling-back' } : { phase: 'rolling-back', code };
    }
    default:
      return undefined;
  }
}

/** How long a phase may take at most, in ms, when it is a wait with a deadline. */
function deadlineMs(p: ChangePhase): number | undefined {
  return p.phase === 'confirming' || p.phase === 'dhcp' ? p.timeoutSeconds * 1000 : undefined;
}

/** One phase as its line; `leftMs` is what remains of a wait's deadline. */
export function phaseText(p: ChangePhase, leftMs = 0): string {
  const left = `${Math.max(0, Math.ceil(leftMs / 1000))} s left`;
  switch (p.phase) {
    case 'planning':
      return 'planning the change';
    case 'applying':
      return `applying ${p.ops} kernel operation${p.ops === 1 ? '' : 's'}`;
    case 'verifying':
      return 'verifying the kernel against the plan';
    case 'dhcp':
      return `waiting for DHCP leases of ${p.networks.join(', ') || 'the networks'} (blockingdhcp): ${left}`;
    case 'confirming':
      return `waiting for Host.confirmConnectivity: ${left}`;
    case 'committing':
      return 'committing the running config';
    case 'rolling-back':
      return `the change failed${p.code !== undefined ? ` (error ${p.code})` : ''}: rolling back`;
  }
}

export interface ProgressViewOptions {
  /** nothing is shown for a change answered sooner (default 1000 ms) */
  delayMs?: number;
  /** ms clock (default Date.now) */
  now?: () => number;
}

/** Erases the terminal line the cursor is on. */
const REWRITE = '\r\x1b[K';

export class ProgressView {
  /** phases seen before the delay is up, shown together then */
  private early: ChangePhase[] = [];
  private current: { p: ChangePhase; since: number } | undefined;
  private shown = false;
  /** a line is on screen without its newline (the countdown rewrites it) */
  private open = false;
  private delay: NodeJS.Timeout | undefined;
  private tick: NodeJS.Timeout | undefined;
  private finished = false;
  private readonly now: () => number;

  constructor(
    private readonly write: (text: string) => void,
    private readonly o: ProgressViewOptions = {},
  ) {
    this.now = o.now ?? Date.now;
  }

  /** The request was sent: after the delay, the phase it is in appears. */
  start(): void {
    this.delay = setTimeout(() => {
      this.shown = true;
      for (const p of this.early) this.line(phaseText(p));
      this.early = [];
      if (this.current) this.render(true);
    }, this.o.delayMs ?? 1000);
  }

  phase(p: ChangePhase): void {
    if (this.finished) return;
    if (this.current && !this.shown) this.early.push(this.current.p);
    this.current = { p, since: this.now() };
    clearInterval(this.tick);
    this.tick = undefined;
    if (this.shown) this.render(true);
  }

  /** The answer came: the open line is ended, timers stop, and nothing more is written. */
  finish(): void {
    this.finished = true;
    clearTimeout(this.delay);
    clearInterval(this.tick);
    if (this.open) this.write('\n');
    this.open = false;
  }

  /** A new line, left open for a countdown to rewrite. */
  private line(text: string): void {
    if (this.open) this.write('\n');
    this.write(text);
    this.open = true;
  }

  private render(fresh: boolean): void {
    const { p, since } = this.current!;
    const deadline = deadlineMs(p);
    const text = phaseText(p, deadline === undefined ? 0 : since + deadline - this.now());
    if (fresh) {
      this.line(text);
    } else {
      this.write(REWRITE + text);
    }
    if (fresh && deadline !== undefined && this.tick === undefined) {
      this.tick = setInterval(() => this.render(false), 1000);
    }
  }
}
