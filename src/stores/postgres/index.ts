export {
  PostgresEventStore,
  type PostgresEventStoreOptions,
  postgresEventStore,
} from './event-store.js';
export { postgresFullText } from './full-text.js';
export { appendedChannel } from './head-watcher.js';
export { type PostgresLeasesOptions, postgresLeases } from './lease.js';
export { type Migration, migrate } from './migrate.js';
export { openPool, type PoolOptions } from './pool.js';
export {
  PostgresReadStore,
  type PostgresReadStoreOptions,
  postgresReadStoreMigrations,
} from './read-store.js';
export { eventLogMigrations } from './schema.js';
export { takeSetupLock, withSetupLock } from './setup-lock.js';
export { numberPlaceholders, pgSql } from './sql.js';
