/**
 * The Host.* verbs as the rpc layer sees them: each verb's params in VDSM's documented order
 * (so positional arrays work) with their top-level JSON shape, and the HostApi method serving it.
 */
import type { SetupRequest } from '../model/types.js';
import { anObject, anObjectOfObjects, type MethodTable } from './methods.js';
import type { HostApi } from '../api/host.js';

/** Reads are quick; this bounds a wedged `ip` dump, not normal work. */
const READ_TIMEOUT_MS = 60_000;

export function hostMethods(api: HostApi): MethodTable {
  return {
    'Host.getCapabilities': { params: [], handler: (_p, ctx) => api.getCapabilities(ctx), timeoutMs: READ_TIMEOUT_MS },
    'Host.getNetworkCapabilities': {
      params: [],
      handler: (_p, ctx) => api.getNetworkCapabilities(ctx),
      timeoutMs: READ_TIMEOUT_MS,
    },
    'Host.getNetworkStatistics': {
      params: [],
      handler: (_p, ctx) => api.getNetworkStatistics(ctx),
      timeoutMs: READ_TIMEOUT_MS,
    },
    'Host.ping2': { params: [], handler: () => api.ping2() },
    'Host.ping': { params: [], handler: () => api.ping() },
    'Host.confirmConnectivity': { params: [], handler: () => api.confirmConnectivity() },
    'Host.setupNetworks': {
      params: [
        { name: 'networks', shape: anObjectOfObjects },
        { name: 'bondings', optional: true, fallback: () => ({}), shape: anObjectOfObjects },
        { name: 'options', optional: true, fallback: () => ({}), shape: anObject },
      ],
      handler: (p, ctx) => api.setupNetworks(p as unknown as SetupRequest, ctx),
      // bounded by the transaction itself (connectivityTimeout, up to the engine's 120 s)
      timeoutMs: null,
    },
    // hostnetd's own: WebSocket clients opt in to notifications (STOMP clients SUBSCRIBE to jms.queue.events)
    'Host.subscribeEvents': { params: [], handler: (_p, ctx) => api.subscribeEvents(ctx) },
    'Host.unsubscribeEvents': { params: [], handler: (_p, ctx) => api.unsubscribeEvents(ctx) },
    // hostnetd's own: copy every frame entering or leaving a network's bridge to a tap (VDSM does it for a vNIC profile with mirroring)
    'Host.setPortMirroring': {
      params: [{ name: 'network' }, { name: 'tap' }],
      handler: (p, ctx) => api.setPortMirroring(p, ctx),
    },
    'Host.unsetPortMirroring': {
      params: [{ name: 'network' }, { name: 'tap' }],
      handler: (p, ctx) => api.unsetPortMirroring(p, ctx),
    },
    'Host.setSafeNetworkConfig': {
      params: [],
      handler: (_p, ctx) => api.setSafeNetworkConfig(ctx),
      timeoutMs: null,
    },
  };
}
