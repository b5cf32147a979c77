// The catalog rebuild on PostgreSQL: the shop's events in a PostgreSQL write DB, the catalog
// rebuilt blue/green into a PostgreSQL read DB, beside the bare-driver ceiling on the same log.
import pg from 'pg';
import { mapReadStore, mapWriteStore, timeOrderedId } from '../src/core/index.js';
import { bulkSeed } from '../src/shop/bulk-seed.js';
import { PRODUCTS_FTS } from '../src/shop/catalog/handlers.js';
import { shopReadIndexes } from '../src/shop/catalog/l1-indexes.js';
import { shopMigrations } from '../src/shop/schema.js';
import {
  migrate,
  PostgresEventStore,
  PostgresReadStore,
  pgSql,
  postgresFullText,
} from '../src/stores/postgres/index.js';
import { rate } from './lib.js';
import { plan, type RebuildStack } from './shop-rebuild.js';

/** Writes the shop's events into a fresh PostgreSQL write DB (as `seedShopLog` does on SQLite). */
export async function seedShopLogPg(writeUrl: string, events: number): Promise<number> {
  const store = await PostgresEventStore.open({ connectionString: writeUrl });
  try {
    await migrate(store.pool, [...shopMigrations, ...shopReadIndexes]);
    await postgresFullText.setup(pgSql(store.pool), PRODUCTS_FTS);
    const seeded = await bulkSeed(mapWriteStore(store, pgSql), postgresFullText, {
      ...plan(events),
      newId: timeOrderedId,
      now: new Date('2026-01-01T00:00:00Z'),
    });
    return seeded.events;
  } finally {
    await store.close();
  }
}

/** The production stack's stores: the PostgreSQL log and a fresh PostgreSQL read DB. */
export async function postgresRebuildStack(
  writeUrl: string,
  readUrl: string,
): Promise<RebuildStack> {
  const log = await PostgresEventStore.open({ connectionString: writeUrl });
  const read = await PostgresReadStore.open({ connectionString: readUrl });
  const fullText = postgresFullText;
  return {
    log: log.log,
    store: mapReadStore(read, (db) => ({ sql: pgSql(db, { prepare: true }), fullText })),
    reader: { sql: pgSql(read.readOnly()), fullText },
    // As SQLite's settle: what the live build (or the ceiling's replay, or the last rebuild) left
    // dirty is written out before "before" is measured (a checkpoint is cluster-wide).
    async settle() {
      await read.pool.query('CHECKPOINT');
    },
    async close() {
      await read.close();
      await log.close();
    },
  };
}

/**
 * The ceiling: bare `pg` reads the same events in batches of 5,000, parses them and upserts one
 * row per event (one prepared statement each), one transaction per batch, into a table of the
 * read DB.
 */
export async function rawReplayPg(writeUrl: string, readUrl: string, total: number) {
  const src = new pg.Client({ connectionString: writeUrl });
  const dst = new pg.Client({ connectionString: readUrl });
  await Promise.all([src.connect(), dst.connect()]);
  try {
    await dst.query('DROP TABLE IF EXISTS raw_replay');
    await dst.query(
      'CREATE TABLE raw_replay (id TEXT PRIMARY KEY, position BIGINT, type TEXT, v BIGINT)',
    );
    return await rate(total, async () => {
      let after = '0';
      for (;;) {
        const { rows } = await src.query<{ position: string; type: string; data: string }>({
          name: 'raw_read',
          text: 'SELECT position, type, data FROM events WHERE position > $1 ORDER BY position LIMIT 5000',
          values: [after],
        });
        if (rows.length === 0) break;
        await dst.query('BEGIN');
        for (const { position, type, data } of rows) {
          const d = JSON.parse(data) as {
            productId?: string;
            categoryId?: string;
            priceCents?: number;
            rating?: number;
            quantity?: number;
          };
          await dst.query({
            name: 'raw_upsert',
            text: `INSERT INTO raw_replay (id, position, type, v) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (id) DO UPDATE SET position = excluded.position, type = excluded.type, v = excluded.v`,
            values: [
              d.productId ?? d.categoryId ?? position,
              position,
              type,
              d.priceCents ?? d.rating ?? d.quantity ?? 0,
            ],
          });
        }
        await dst.query('COMMIT');
        after = rows[rows.length - 1]!.position;
      }
    });
  } finally {
    await Promise.all([src.end(), dst.end()]);
  }
}
