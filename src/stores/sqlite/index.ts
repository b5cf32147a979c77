export { type BackgroundCheckpoints, backgroundCheckpoints } from './checkpointer.js';
export {
  SqliteEventStore,
  type SqliteEventStoreOptions,
  sqliteEventStore,
} from './event-store.js';
export { sqliteFullText } from './full-text.js';
export { ProjectorLockHeld, sqliteProjectorLock } from './lease.js';
export { migrate, type OpenOptions, openSqlite, type SqliteSynchronous } from './open.js';
export { SqliteReadStore, type SqliteReadStoreOptions, sqliteReadStore } from './read-store.js';
export { eventLogMigrations, readStoreMigrations } from './schema.js';
export { sqliteSql } from './sql.js';
export { sqliteWorkerSql, type WorkerSql } from './worker-reader.js';
