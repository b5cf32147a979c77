export {
  PostgresEventStore,
  type PostgresEventStoreOptions,
  postgresEventStore,
} from './event-store.js';
export { appendedChannel } from './head-watcher.js';
export { type PostgresLeasesOptions, postgresLeases } from './lease.js';
export { type Migration, migrate } from './migrate.js';
export { eventLogMigrations } from './schema.js';
