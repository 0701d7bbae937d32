/** Builds the transaction engine for the daemon and settles an unfinished change before it serves. */
import type { Logger } from 'pino';
import type { Iproute } from '../kernel/iproute.js';
import type { ConfigStore } from '../store/config-store.js';
import { Journal } from '../store/journal.js';
import { awaitPreviousBatches } from '../kernel/batch-guard.js';
import type { ConnectivityTracker } from './connectivity.js';
import { Transactions } from './transaction.js';
import type { NetworkMirror } from './types.js';
import type { SnapshotScope } from '../kernel/snapshot.js';
import type { KernelFeatures, KernelState } from '../kernel/types.js';
import type { DhcpClients } from '../dhcp/clients.js';

export interface TransactionEnv {
  opts: { stateDir: string; fakeNics: string[]; resolvConf: string; dhcpTimeout: number };
  log: Logger;
  ipr: Iproute;
  store: ConfigStore;
  connectivity: ConnectivityTracker;
  mirror?: NetworkMirror;
  /** the snapshot a change plans against */
  current?: (scope?: SnapshotScope) => Promise<KernelState>;
  /** the kernel event watch, paused while a change runs */
  watch?: { pause(): Promise<void>; resume(): void };
  /** the DHCP clients a change starts and stops */
  dhcp?: DhcpClients;
  /** what the kernel can do (the daemon's detection at start) */
  features?: KernelFeatures;
}

export async function makeTransactions(env: TransactionEnv): Promise<Transactions> {
  const tx = new Transactions({
    ipr: env.ipr,
    store: env.store,
    journal: new Journal(env.opts.stateDir),
    connectivity: env.connectivity,
    fakeNics: env.opts.fakeNics,
    resolvConf: env.opts.resolvConf,
    log: env.log.child({ component: 'transaction' }),
    ...(env.mirror ? { mirror: env.mirror } : {}),
    ...(env.current ? { current: env.current } : {}),
    ...(env.watch ? { watch: env.watch } : {}),
    ...(env.dhcp ? { dhcp: env.dhcp } : {}),
    ...(env.features ? { features: env.features } : {}),
    dhcpTimeoutMs: env.opts.dhcpTimeout * 1000,
  });
  // a batch of a killed previous run must not race the rollback of its change
  await awaitPreviousBatches(env.opts.stateDir, env.log);
  await tx.recover(env.log);
  return tx;
}
