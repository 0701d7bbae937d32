/** Builds the transaction engine for the daemon and settles an unfinished change before it serves. */
import { awaitPreviousBatches } from '../kernel/batch-guard.js';
import { Transactions, type TransactionDeps } from './transaction.js';

/** The options-derived part of TransactionDeps, as hostnetd and hostnetd restore read them. */
export const fromOptions = (o: { stateDir: string; fakeNics: string[]; resolvConf: string; dhcpTimeout: number }) =>
  ({ stateDir: o.stateDir, fakeNics: o.fakeNics, resolvConf: o.resolvConf, dhcpTimeoutMs: o.dhcpTimeout * 1000 });

export async function makeTransactions(deps: TransactionDeps): Promise<Transactions> {
  const tx = new Transactions({ ...deps, log: deps.log.child({ component: 'transaction' }) });
  // a batch of a killed previous run must not race the rollback of its change
  await awaitPreviousBatches(deps.stateDir, deps.log);
  await tx.recover(deps.log);
  return tx;
}
