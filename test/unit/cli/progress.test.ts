// hostnetctl's progress view: what a person at a terminal sees of a long change, and that a
// pipe or --json sees nothing (showsProgress decides; the view is never built then).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { phaseOf, phaseText, ProgressView, showsProgress } from '../../../src/cli/progress.js';
import { progressNotification } from '../../../src/api/progress.js';

describe('showsProgress', () => {
  it('only on a terminal without --json', () => {
    expect(showsProgress({ isTTY: true, json: false })).toBe(true);
    expect(showsProgress({ isTTY: true, json: true })).toBe(false);
    // a pipe or a file: process.stdout.isTTY is undefined there
    expect(showsProgress({ isTTY: undefined, json: false })).toBe(false);
    expect(showsProgress({ isTTY: false, json: false })).toBe(false);
  });
});

describe('phaseOf', () => {
  it('reads the params of the daemon notification, and ignores what it does not know', () => {
    const params = (json: string) => (JSON.parse(json) as { params: unknown }).params;
    expect(phaseOf(params(progressNotification(7, { phase: 'applying', ops: 12 }, 5)))).toEqual({ phase: 'applying', ops: 12 });
    expect(phaseOf(params(progressNotification('a', { phase: 'confirming', timeoutSeconds: 30 }, 5)))).toEqual({ phase: 'confirming', timeoutSeconds: 30 });
    expect(phaseOf({ phase: 'rolling-back', code: 10, notify_time: 1 })).toEqual({ phase: 'rolling-back', code: 10 });
    expect(phaseOf({ phase: 'dhcp', networks: ['m'], timeoutSeconds: 60 })).toEqual({ phase: 'dhcp', networks: ['m'], timeoutSeconds: 60 });
    expect(phaseOf({ phase: 'teleporting' })).toBeUndefined();
    expect(phaseOf(null)).toBeUndefined();
    expect(phaseOf('planning')).toBeUndefined();
  });

  it('names the notification after the request id, in VDSM event shape', () => {
    expect(JSON.parse(progressNotification(7, { phase: 'verifying' }, 1234))).toEqual({
      jsonrpc: '2.0', method: '|net|progress|7', params: { phase: 'verifying', notify_time: 1234 },
    });
  });
});

describe('phaseText', () => {
  it('says what runs, with the operations counted and the seconds left of a wait', () => {
    expect(phaseText({ phase: 'applying', ops: 1 })).toBe('applying 1 kernel operation');
    expect(phaseText({ phase: 'applying', ops: 12 })).toBe('applying 12 kernel operations');
    expect(phaseText({ phase: 'confirming', timeoutSeconds: 120 }, 119_001)).toBe('waiting for Host.confirmConnectivity: 120 s left');
    expect(phaseText({ phase: 'confirming', timeoutSeconds: 120 }, -5)).toMatch(/: 0 s left$/);
    expect(phaseText({ phase: 'dhcp', networks: ['a', 'b'], timeoutSeconds: 60 }, 60_000)).toBe('waiting for DHCP leases of a, b (blockingdhcp): 60 s left');
    expect(phaseText({ phase: 'rolling-back', code: 10 })).toBe('the change failed (error 10): rolling back');
  });
});

describe('ProgressView', () => {
  let out: string;
  let view: ProgressView;
  beforeEach(() => {
    vi.useFakeTimers();
    out = '';
    view = new ProgressView((t) => {
      out += t;
    });
  });
  afterEach(() => {
    view.finish();
    vi.useRealTimers();
  });

  it('shows nothing for a change answered within a second', () => {
    view.start();
    view.phase({ phase: 'planning' });
    view.phase({ phase: 'applying', ops: 3 });
    vi.advanceTimersByTime(900);
    view.finish();
    vi.advanceTimersByTime(5000);
    expect(out).toBe('');
  });

  it('after a second: the phases so far, then one line per phase, and the countdown rewrites its own line', () => {
    view.start();
    view.phase({ phase: 'planning' });
    view.phase({ phase: 'applying', ops: 3 });
    vi.advanceTimersByTime(1000);
    expect(out).toBe('planning the change\napplying 3 kernel operations');
    view.phase({ phase: 'verifying' });
    view.phase({ phase: 'confirming', timeoutSeconds: 3 });
    expect(out).toBe('planning the change\napplying 3 kernel operations\nverifying the kernel against the plan\nwaiting for Host.confirmConnectivity: 3 s left');
    vi.advanceTimersByTime(1000);
    vi.advanceTimersByTime(1000);
    expect(out.endsWith('\r\x1b[Kwaiting for Host.confirmConnectivity: 2 s left'
      + '\r\x1b[Kwaiting for Host.confirmConnectivity: 1 s left')).toBe(true);
    view.phase({ phase: 'rolling-back', code: 10 });
    view.finish();
    expect(out.endsWith('1 s left\nthe change failed (error 10): rolling back\n')).toBe(true);
    // the countdown stopped with its phase: nothing after finish
    const done = out;
    vi.advanceTimersByTime(5000);
    expect(out).toBe(done);
  });

  it('a wait already under way when the second is up shows what is left of it', () => {
    view.start();
    view.phase({ phase: 'confirming', timeoutSeconds: 10 });
    vi.advanceTimersByTime(1000);
    expect(out).toBe('waiting for Host.confirmConnectivity: 9 s left');
    view.phase({ phase: 'committing' });
    vi.advanceTimersByTime(3000);
    expect(out).toBe('waiting for Host.confirmConnectivity: 9 s left\ncommitting the running config');
  });
});
