// A copy built from position 0 keeps only the indexes its projection reads while applying
// (`buildIndexes`); the others are created once it has caught up, under the copy's names. On
// PostgreSQL the copy's tables are analysed then too (the planner has statistics at the switch).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Event,
  mapReadStore,
  namesOf,
  type Projection,
  type ReadStore,
  TableCopy,
} from '../../src/core/index.js';
import { catalogProjection } from '../../src/shop/catalog/projection.js';
import type { ProjectionDb } from '../../src/shop/read-db.js';
import { PostgresReadStore, pgSql, postgresFullText } from '../../src/stores/postgres/index.js';
import { createTestDatabase, postgresReachable } from '../../src/stores/postgres/test-db.js';
import {
  SqliteEventStore,
  SqliteReadStore,
  sqliteFullText,
  sqliteSql,
} from '../../src/stores/sqlite/index.js';

/** The same projection, without its `buildIndexes`. */
function withoutBuildIndexes<E extends Event, H>(p: Projection<E, H>): Projection<E, H> {
  const { buildIndexes: _, ...rest } = p;
  return rest;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const ALL = [
  'rm_catalog_categories_by_name__g7',
  'rm_catalog_products_by_category__g7',
  'rm_catalog_products_by_name__g7',
  'rm_catalog_products_by_rating__g7',
  'rm_catalog_products_by_sales__g7',
  'rm_catalog_products_by_stock__g7',
  'rm_catalog_products_by_update__g7',
];

/** A read store, the secondary indexes of the copy's tables, and which of them were analysed. */
interface Stack {
  readonly store: ReadStore<ProjectionDb>;
  indexes(): Promise<string[]>;
  analysed(): Promise<string[]>;
}

async function sqliteStack(dir: string): Promise<Stack> {
  const read = new SqliteReadStore({ path: join(dir, 'read.db') });
  cleanups.push(() => read.close());
  return {
    store: mapReadStore(read, (db) => ({ sql: sqliteSql(db), fullText: sqliteFullText })),
    indexes: async () =>
      read.db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name LIKE 'rm_catalog_%__g7' ORDER BY name",
        )
        .pluck()
        .all() as string[],
    analysed: async () => [],
  };
}

async function postgresStack(): Promise<Stack> {
  const db = await createTestDatabase('tworooms_deferred');
  cleanups.push(() => db.drop());
  const read = await PostgresReadStore.open({ connectionString: db.url });
  cleanups.push(() => read.close());
  const names = async (sql: string) =>
    (await read.pool.query<{ name: string }>(sql)).rows.map((r) => r.name);
  return {
    store: mapReadStore(read, (c) => ({ sql: pgSql(c), fullText: postgresFullText })),
    indexes: () =>
      names(`SELECT indexname AS name FROM pg_indexes
              WHERE tablename LIKE 'rm_catalog_%__g7' AND indexname NOT LIKE '%_pkey'
              ORDER BY indexname`),
    // reltuples is -1 until a table is first analysed (or vacuumed).
    analysed: () =>
      names(`SELECT relname AS name FROM pg_class
              WHERE relname LIKE 'rm_catalog_%__g7' AND relkind = 'r' AND reltuples >= 0
              ORDER BY relname`),
  };
}

const COPY_TABLES = [
  'rm_catalog_categories__g7',
  'rm_catalog_products__g7',
  'rm_catalog_recent_reviews__g7',
  'rm_catalog_stock__g7',
];

const reachable = await postgresReachable();
const stacks = [
  { name: 'sqlite', open: sqliteStack, analyses: false, skip: false },
  { name: 'postgres', open: postgresStack, analyses: true, skip: !reachable },
];

for (const { name, open, analyses, skip } of stacks) {
  describe.skipIf(skip)(name, () => {
    it.each([
      ['says which indexes apply reads (none)', catalogProjection, [] as string[]],
      ['does not say which indexes apply reads', withoutBuildIndexes(catalogProjection), ALL],
    ])(
      'builds a copy of a projection that %s with those indexes, the rest once caught up',
      async (_, projection, kept) => {
        const dir = mkdtempSync(join(tmpdir(), 'tworooms-deferred-'));
        cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
        const log = new SqliteEventStore({ path: join(dir, 'write.db') });
        cleanups.push(() => log.close());
        const stack = await open(dir);
        const copy = new TableCopy({
          log,
          store: stack.store,
          projection,
          names: namesOf(projection as Projection<Event, unknown>, '__g7', '__g7'),
          generation: 7,
          batchSize: 100,
          skipped: new Set(),
        });
        await copy.create(['g']);
        expect(await stack.indexes()).toEqual(kept);
        expect(await stack.analysed()).toEqual([]);
        await copy.catchUp();
        await copy.buildIndexes();
        expect(await stack.indexes()).toEqual(ALL);
        // Analysed along with the deferred indexes (a copy that defers none is left to autovacuum).
        expect(await stack.analysed()).toEqual(analyses && kept.length === 0 ? COPY_TABLES : []);
      },
    );
  });
}
