// The shop's own catalog projection rebuilt blue/green from a large log into SQLite (beside the
// bare-driver ceiling of the same run), and catalog query latency before and during the rebuild.
import { join } from 'node:path';
import {
  mapReadStore,
  mapWriteStore,
  projector,
  queryBus,
  timeOrderedId,
} from '../src/core/index.js';
import { bulkSeed } from '../src/shop/bulk-seed.js';
import { catalogProjection } from '../src/shop/catalog/projection.js';
import { shopQueryHandlers } from '../src/shop/query-handlers.js';
import { shopMigrations } from '../src/shop/schema.js';
import {
  migrate,
  SqliteEventStore,
  SqliteReadStore,
  sqliteFullText,
  sqliteSql,
} from '../src/stores/sqlite/index.js';

/** Products and reviews giving about `events` events (4 per product with 3 warehouses). */
function plan(events: number) {
  const products = Math.round(events / 10);
  return { categories: 50, products, reviews: Math.max(0, events - 50 - 1000 - products * 4) };
}

/** Writes the shop's events (products, stock, reviews) into a fresh write DB; returns the head. */
export async function seedShopLog(writePath: string, events: number): Promise<number> {
  const store = new SqliteEventStore({ path: writePath });
  migrate(store.db, shopMigrations);
  await sqliteFullText.setup(sqliteSql(store.db), 'products_fts');
  const seeded = await bulkSeed(mapWriteStore(store, sqliteSql), sqliteFullText, {
    ...plan(events),
    newId: timeOrderedId,
    now: new Date('2026-01-01T00:00:00Z'),
  });
  await store.close();
  return seeded.events;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

/**
 * Builds the live catalog, then measures: catalog-page latency with the projector idle (before),
 * a blue/green rebuild of the catalog (events/s over the whole log) and the same latency while it
 * runs and switches (during). Queries run in the projector's process, as `serve` runs them.
 */
export async function catalogRebuild(
  writePath: string,
  dir: string,
  total: number,
): Promise<Record<string, number>> {
  const log = new SqliteEventStore({ path: writePath });
  const read = new SqliteReadStore({ path: join(dir, 'shop-read.db') });
  const store = mapReadStore(read, (db) => ({ sql: sqliteSql(db), fullText: sqliteFullText }));
  const p = projector({ log, store, projections: [catalogProjection], batchSize: 2000 });
  const reader = read.readOnly();
  const queries = queryBus(shopQueryHandlers('read-model'), {
    db: { sql: sqliteSql(reader), fullText: sqliteFullText },
  });
  const pages = Math.max(1, Math.floor(plan(total).products / 24));
  let n = 0;
  const once = async () => {
    const t = performance.now();
    await queries.ask({ type: 'CatalogPage', data: { page: 1 + ((n++ * 7919) % pages) } });
    return performance.now() - t;
  };
  const turn = () => new Promise<void>((r) => setImmediate(r));
  try {
    await p.start();
    if (!(await p.catchUp(3_600_000)).reached) throw new Error('the live catalog did not catch up');
    const before: number[] = [];
    for (let i = 0; i < 3000; i++) {
      before.push(await once());
      await turn();
    }
    const during: number[] = [];
    let done = false;
    const started = performance.now();
    const rebuilt = p.rebuild('catalog').finally(() => {
      done = true;
    });
    while (!done) {
      during.push(await once());
      await turn();
    }
    await rebuilt;
    const seconds = (performance.now() - started) / 1000;
    return {
      catalog_rebuild_events: total,
      catalog_rebuild_events_per_s: Math.round(total / seconds),
      query_p99_before_ms: Math.round(percentile(before, 99) * 100) / 100,
      query_p99_during_rebuild_ms: Math.round(percentile(during, 99) * 100) / 100,
      query_p99_increase_ms:
        Math.round((percentile(during, 99) - percentile(before, 99)) * 100) / 100,
      queries_during_rebuild: during.length,
    };
  } finally {
    await p.stop();
    reader.close();
    await read.close();
    await log.close();
  }
}
