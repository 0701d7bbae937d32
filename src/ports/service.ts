/**
 * The port agent as the daemon wires it: guest MACs from libvirt (the daemon's session), the agent
 * with its link monitor, and a NetworkChanger wrapper that reconciles after each setupNetworks.
 *
 *   const ports = await startPorts({ ipr, config: () => store.running(), features, session, log });
 *   const changer = ports.wrap(await makeTransactions(env));
 *   ...
 *   await ports.stop();
 */
import type { Logger } from 'pino';
import type { KernelView } from '../kernel/view.js';
import type { NetworkChanger } from '../model/changer.js';
import type { Iproute } from '../kernel/iproute.js';
import type { KernelFeatures } from '../model/kernel-state.js';
import type { LibvirtSession } from '../libvirt/session.js';
import type { HostConfig } from '../model/types.js';
import { PortAgent, type PortAgentOptions } from './agent.js';
import { managedBridges, type ManagedBridge } from './policy.js';
import { LibvirtGuestMacs } from './guests.js';

export interface PortsOptions {
  ipr: Iproute;
  config: () => HostConfig;
  features: KernelFeatures;
  /** the daemon's libvirt connection (its owner starts and stops it) */
  session: LibvirtSession;
  log: Logger;
  /** the daemon's kernel view (the agent listens to it and reads it) */
  view?: KernelView;
  onPass?: PortAgentOptions['onPass'];
}

export interface Ports {
  agent: PortAgent;
  /** the same changer, followed by a port reconcile (awaited after a success, started after a failure) */
  wrap(changer: NetworkChanger): NetworkChanger;
  stop(): Promise<void>;
}

/** Listens to libvirt's guests, starts the monitor, runs the first pass. */
export async function startPorts(opts: PortsOptions): Promise<Ports> {
  const log = opts.log.child({ component: 'ports' });
  const guests = new LibvirtGuestMacs({ session: opts.session, log });
  const agent = new PortAgent({ ipr: opts.ipr, config: opts.config, guestMacs: () => guests.macs(), features: opts.features, log,
    ...(opts.view !== undefined ? { view: opts.view } : {}), ...(opts.onPass !== undefined ? { onPass: opts.onPass } : {}) });
  guests.onChange(() => agent.trigger('libvirt-guests'));
  await guests.start();
  try {
    await agent.start();
  } catch (e) {
    await guests.stop();
    throw e;
  }
  return {
    agent,
    wrap: (changer) => ({
      async setup(request, ctx) {
        const config = opts.config();
        try {
          await changer.setup(request, ctx);
        } catch (e) {
          // a rollback may have recreated ports: bring them back to policy, but answer now
          agent.trigger('setupNetworks-failed');
          throw e;
        }
        // a request that left every bridge's policy as it was (the engine's periodic identical
        // request) costs no pass: link changes, if any, reach the agent through its monitor; a
        // change that committed nothing left the very same config object
        const after = opts.config();
        if (after === config || policyKey(after) === policyKey(config)) return;
        // plain bridges need nothing on their ports: the pass that follows the batch (resume) is enough
        if (!managedBridges(after).some(needsPolicy)) {
          agent.trigger('setupNetworks');
          return;
        }
        // the engine's `true` means the changed networks' ports are in policy too
        await agent.reconcile('setupNetworks').catch((e: unknown) =>
          log.error({ err: (e as Error).message }, 'port reconcile after setupNetworks failed'));
      },
      setSafe: (ctx) => changer.setSafe(ctx),
    }),
    async stop() {
      await agent.stop();
      await guests.stop();
    },
  };
}

/** A bridge whose ports get something other than the kernel's defaults. */
const needsPolicy = (b: ManagedBridge) => b.portIsolation || b.macTableManager === 'libvirt';

/** what the port policy depends on in a config: bridges, their uplinks and attributes */
export const policyKey = (config: HostConfig): string => JSON.stringify(managedBridges(config));
