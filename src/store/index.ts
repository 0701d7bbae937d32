/** The persistent store: atomic files, the state-directory lock, running/safe config, the journal. */
export { writeFileAtomic, fsyncDir, unlinkDurable, removeStaleTmpFiles } from './atomic.js';
export { acquireStateLock, LOCK_FILE } from './lock.js';
export type { StateLock, LockRecord, LockOwner } from './lock.js';
export { ConfigStore, serializeConfig, parseConfig, CONFIG_FORMAT_VERSION, RUNNING_FILE, SAFE_FILE } from './config-store.js';
export { Journal, JOURNAL_FILE, JOURNAL_PHASES, newJournalId, parseJournal } from './journal.js';
export type { JournalEntry, JournalPhase } from './journal.js';
export { canonicalJson, sortKeysDeep } from './canonical.js';
