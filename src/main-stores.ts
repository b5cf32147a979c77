// Part of the composition root: opens the write and read sides on the configured stores
// (SQLite files or PostgreSQL databases) and hands the shop the same ports either way.
import type pg from 'pg';
import { type Config, ConfigError, isPostgresUrl } from './config.js';
import type { Cache } from './core/cache.js';
import {
  type EventLog,
  type FullTextIndex,
  inProcessJobs,
  type JobQueue,
  type LeaseManager,
  mapReadStore,
  mapWriteStore,
  type ReadStore,
  type Sql,
  type WriteStore,
} from './core/index.js';
import { PRODUCTS_FTS } from './shop/catalog/handlers.js';
import { shopReadIndexes } from './shop/catalog/l1-indexes.js';
import type { ProjectionDb } from './shop/read-db.js';
import { shopMigrations } from './shop/schema.js';
import { InProcessCache } from './stores/memory/index.js';
import {
  migrate as migratePostgres,
  openPool,
  PostgresEventStore,
  PostgresReadStore,
  pgSql,
  postgresFullText,
  postgresLeases,
  takeSetupLock,
  withSetupLock,
} from './stores/postgres/index.js';
import { NearCache, RedisCache } from './stores/redis/index.js';
import { bullmqJobs } from './stores/redis/jobs.js';
import {
  migrate as migrateSqlite,
  SqliteEventStore,
  SqliteReadStore,
  sqliteFullText,
  sqliteProjectorLock,
  sqliteSql,
  sqliteWorkerSql,
} from './stores/sqlite/index.js';

/** The write DB and its event log, as the shop uses them whatever the store. */
export interface WriteSide {
  readonly store: WriteStore<Sql>;
  readonly log: EventLog;
  readonly fullText: FullTextIndex;
  /** A read-only handle on the write DB: level-1 queries and token lookups. */
  readonly reader: Sql;
  headPosition(): Promise<bigint>;
  close(): Promise<void>;
}

/** The read DB (read models and checkpoints), as the shop uses it whatever the store. */
export interface ReadSide {
  readonly store: ReadStore<ProjectionDb>;
  /** Opens a read-only handle on the read DB for level-2 queries (closed with the side). */
  reader(): Sql;
  close(): Promise<void>;
}

const WRITE_MIGRATIONS = [...shopMigrations, ...shopReadIndexes];

/** Opens (and migrates) the embedded write DB, with the level-1 search index. */
export async function openSqliteWriteStore(config: Config): Promise<SqliteEventStore> {
  if (isPostgresUrl(config.writeDb)) {
    throw new ConfigError(
      'this command loads the embedded SQLite store only (TWOROOMS_WRITE_DB is a PostgreSQL URL).',
    );
  }
  const store = new SqliteEventStore({
    path: config.writeDb,
    synchronous: config.sqliteSynchronous,
    // The connection that commits checkpoints in the background; with the writer thread, that
    // is the thread's (`serve`), and this one, which barely commits, keeps SQLite's own.
    backgroundCheckpoints: !config.sqliteWriteThread,
  });
  migrateSqlite(store.db, WRITE_MIGRATIONS);
  await sqliteFullText.setup(sqliteSql(store.db), PRODUCTS_FTS);
  return store;
}

/** A read-only handle on a SQLite file: on worker threads if configured, else on this thread. */
function readerOn(
  path: string,
  threads: number,
  open: () => { close(): unknown } & Parameters<typeof sqliteSql>[0],
): { sql: Sql; close(): Promise<void> } {
  if (threads > 0) {
    const sql = sqliteWorkerSql(path, threads);
    return { sql, close: () => sql.close() };
  }
  const db = open();
  return { sql: sqliteSql(db), close: async () => void db.close() };
}

async function openSqliteWriteSide(config: Config): Promise<WriteSide> {
  const store = await openSqliteWriteStore(config);
  const reader = readerOn(config.writeDb, config.sqliteReadThreads, () => store.readOnly());
  return {
    store: mapWriteStore(store, sqliteSql),
    log: store.log,
    fullText: sqliteFullText,
    reader: reader.sql,
    headPosition: () => store.headPosition(),
    async close() {
      await store.close();
      await reader.close();
    },
  };
}

/**
 * The shop sorts text (names, ids) as the embedded store does, by code point: that is the
 * order of a database created with the C collation. Another collation still works, but pages
 * may list ties differently from SQLite, so say so once.
 */
async function warnOnCollation(sql: Sql, setting: string): Promise<void> {
  const row = await sql.get<{ collation: string }>(
    'SELECT datcollate AS collation FROM pg_database WHERE datname = current_database()',
  );
  if (row && !/^(C|POSIX)(\.utf-?8)?$/i.test(row.collation)) {
    console.warn(
      `tworooms: the ${setting} database sorts text by ${row.collation}; create it with LC_COLLATE 'C' (TEMPLATE template0) to sort as the embedded store does.`,
    );
  }
}

async function openPostgresWriteSide(config: Config): Promise<WriteSide> {
  const store = await PostgresEventStore.open({ connectionString: config.writeDb });
  try {
    await migratePostgres(store.pool, WRITE_MIGRATIONS);
    await withSetupLock(store.pool, (sql) => postgresFullText.setup(sql, PRODUCTS_FTS));
    await warnOnCollation(pgSql(store.pool), 'TWOROOMS_WRITE_DB');
  } catch (error) {
    await store.close();
    throw error;
  }
  const reader = openPool({ connectionString: config.writeDb, readOnly: true });
  return {
    // One writer connection runs the same statements order after order: parsed and planned once.
    store: mapWriteStore(store, (db) => pgSql(db, { prepare: true })),
    log: store.log,
    fullText: postgresFullText,
    reader: pgSql(reader),
    headPosition: () => store.headPosition(),
    async close() {
      await store.close();
      await reader.end();
    },
  };
}

/** Opens (and migrates) the write DB named by the configuration. */
export const openWriteSide = (config: Config): Promise<WriteSide> =>
  isPostgresUrl(config.writeDb) ? openPostgresWriteSide(config) : openSqliteWriteSide(config);

function openSqliteReadSide(config: Config): ReadSide {
  // The connection that commits checkpoints in the background: with the projector thread
  // (`serve`), the thread's own (it opens its read side with the option off).
  const store = new SqliteReadStore({
    path: config.readDb,
    backgroundCheckpoints: !config.sqliteProjectThread,
  });
  const fullText = sqliteFullText;
  const readers: { close(): Promise<void> }[] = [];
  return {
    store: mapReadStore(store, (db) => ({ sql: sqliteSql(db), fullText })),
    reader() {
      const reader = readerOn(config.readDb, config.sqliteReadThreads, () => store.readOnly());
      readers.push(reader);
      return reader.sql;
    },
    async close() {
      for (const r of readers) await r.close();
      await store.close();
    },
  };
}

async function openPostgresReadSide(config: Config): Promise<ReadSide> {
  const store = await PostgresReadStore.open({ connectionString: config.readDb });
  const fullText = postgresFullText;
  await warnOnCollation(pgSql(store.readOnly()), 'TWOROOMS_READ_DB');
  // The projector runs the same statements batch after batch: prepared once per connection.
  const toDb = (db: pg.PoolClient): ProjectionDb => ({
    sql: pgSql(db, { prepare: true }),
    fullText,
  });
  return {
    store: {
      ...mapReadStore(store, toDb),
      // Processes starting together create the same read-model tables: one at a time.
      setup: (projections) =>
        store.transact(async (tx) => {
          await takeSetupLock(tx.db);
          for (const p of projections) await p.setup?.(toDb(tx.db));
        }),
    },
    reader: () => pgSql(store.readOnly()),
    close: () => store.close(),
  };
}

/** Opens the read DB named by the configuration (its checkpoint table created if missing). */
export const openReadSide = async (config: Config): Promise<ReadSide> =>
  isPostgresUrl(config.readDb) ? openPostgresReadSide(config) : openSqliteReadSide(config);

/** The query cache with the counters `/metrics` shows. */
export type ShopCache = Cache & { readonly hits: number; readonly misses: number };

/**
 * The cache named by the configuration: Redis (shared by every process with the same prefix;
 * the start fails with "Redis unreachable: …" rather than serve misses) or in-process.
 */
export async function openCache(
  config: Config,
): Promise<{ readonly cache: ShopCache; readonly shared: boolean; close(): Promise<void> }> {
  if (!config.cache) {
    const cache = new InProcessCache({ ttlMs: config.cacheTtlMs });
    return { cache, shared: false, close: async () => {} };
  }
  const redis = new RedisCache({
    redis: config.cache.url,
    prefix: config.cache.prefix,
    ttlMs: config.cacheTtlMs,
  });
  const cache = config.cache.near ? new NearCache(redis, { ttlMs: config.cacheTtlMs }) : redis;
  try {
    await cache.ready();
  } catch (error) {
    await cache.close();
    throw error;
  }
  return { cache, shared: true, close: () => cache.close() };
}

/** Background jobs: BullMQ on the configured Redis (shared by every worker), else in-process. */
export function openJobs(config: Config): JobQueue {
  const onFailed = (name: string, key: string, error: unknown) =>
    console.warn(
      `tworooms: job ${name} for ${key} gave up: ${error instanceof Error ? error.message : String(error)}`,
    );
  return config.cache
    ? bullmqJobs({ url: config.cache.url, prefix: config.cache.jobsPrefix, onFailed })
    : inProcessJobs({ onFailed });
}

/**
 * Who may run which projection. PostgreSQL: advisory-lock leases on the read DB, one owner per
 * projection among any number of workers, failover when the owner's session ends. SQLite: one
 * projector process per read DB, a second one refused at start (`ProjectorLockHeld`).
 */
export async function openLeases(config: Config, applicationName?: string): Promise<LeaseManager> {
  if (isPostgresUrl(config.readDb))
    return postgresLeases({
      connectionString: config.readDb,
      ...(applicationName ? { applicationName } : {}),
    });
  return sqliteProjectorLock(`${config.readDb}.projector-lock`);
}
