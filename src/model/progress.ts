/**
 * What a change tells whoever asked for it while it runs, so a person at a terminal sees more
 * than a silent wait of up to two minutes. The transaction emits these; the API layer decides
 * where they go (a JSON-RPC notification to the requesting connection), so apply stays free of
 * any transport. A sink must not throw: progress is a courtesy, never a reason to fail a change.
 *
 *   changer.setup(request, { ...ctx, progress: (p) => console.log(p.phase) });   // planning, applying, verifying, ...
 */

/** The phases of one change, in the order they can happen. */
export type ChangePhase =
  /** validating the request and planning it against the kernel view */
  | { phase: 'planning' }
  /** one batch of `ops` operations runs (`ops` 0: only the config or the DHCP clients change) */
  | { phase: 'applying'; ops: number }
  /** the kernel is read back and compared with the plan */
  | { phase: 'verifying' }
  /** blockingdhcp: waiting for the leases of these networks, at most timeoutSeconds */
  | { phase: 'dhcp'; networks: string[]; timeoutSeconds: number }
  /** waiting for Host.confirmConnectivity, at most timeoutSeconds from now */
  | { phase: 'confirming'; timeoutSeconds: number }
  /** the running (and maybe safe) config is written */
  | { phase: 'committing' }
  /** the change failed with `code`; every step taken is being undone */
  | { phase: 'rolling-back'; code?: number };

export type ProgressSink = (p: ChangePhase) => void;

export const noProgress: ProgressSink = () => undefined;

/** The sink as the transaction calls it: a sink that throws is logged, and the change goes on. */
export function guarded(sink: ProgressSink, onError: (err: unknown) => void): ProgressSink {
  return (p) => {
    try {
      sink(p);
    } catch (err) {
      onError(err);
    }
  };
}

export const PROGRESS_EVENT_PREFIX = '|net|progress|';

/** The notification method that carries request `id`'s phases (api/progress.ts sends it, the cli listens for it). */
export const progressMethod = (id: string | number): string => `${PROGRESS_EVENT_PREFIX}${id}`;
