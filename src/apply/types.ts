import type { RequestContext } from '../api/context.js';
import type { SetupRequest } from '../model/types.js';

/**
 * The seam between the API and the transaction engine. Host.setupNetworks and
 * Host.setSafeNetworkConfig call these; both throw HostnetError (40 while another change runs).
 */
export interface NetworkChanger {
  setup(request: SetupRequest, ctx: RequestContext): Promise<void>;
  setSafe(ctx: RequestContext): Promise<void>;
}
