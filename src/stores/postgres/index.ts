export { postgresFullText } from './full-text.js';
export { type Migration, migrate } from './migrate.js';
export { openPool, type PoolOptions } from './pool.js';
export { numberPlaceholders, pgSql } from './sql.js';
