import type { RequestContext } from './context.js';
import type { HostConfig, SetupRequest } from './types.js';

/**
 * The seam between the API and the transaction engine. Host.setupNetworks and
 * Host.setSafeNetworkConfig call these; both throw HostnetError (40 while another change runs).
 */
export interface NetworkChanger {
  setup(request: SetupRequest, ctx: RequestContext): Promise<void>;
  setSafe(ctx: RequestContext): Promise<void>;
}

/**
 * Something outside the kernel kept in step with the config (libvirt's networks): synced after
 * the kernel change is verified, undone if the transaction fails later. A refusal (while the
 * outside system is reachable) throws a HostnetError and rolls the whole change back.
 */
export interface NetworkMirror {
  sync(config: HostConfig): Promise<{ undo(previous: HostConfig): Promise<void> }>;
}
