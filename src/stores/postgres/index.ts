export { postgresFullText } from './full-text.js';
export { type Migration, migrate } from './migrate.js';
export { openPool, type PoolOptions } from './pool.js';
export {
  PostgresReadStore,
  type PostgresReadStoreOptions,
  postgresReadStoreMigrations,
} from './read-store.js';
export { numberPlaceholders, pgSql } from './sql.js';
