// A copy built from position 0 keeps only the indexes its projection reads while applying
// (`buildIndexes`); the others are created once it has caught up, under the copy's names. On
// PostgreSQL the copy's tables are analysed then too (the planner has statistics at the switch),
// and they are UNLOGGED while built (no WAL for their many row versions), LOGGED before the
// indexes are built. A live copy filled from position 0 is analysed once it has caught up.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Event,
  mapReadStore,
  namesOf,
  type Projection,
  projector,
  type ReadStore,
  TableCopy,
  verifyProjection,
} from '../../src/core/index.js';
import { catalogProjection, createCatalogProjection } from '../../src/shop/catalog/projection.js';
import type { ShopEvent } from '../../src/shop/events.js';
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

/**
 * A read store, the secondary indexes of the copy's tables, which of its tables (those named
 * like `like`, default the copy's) were analysed, and which are unlogged.
 */
interface Stack {
  readonly store: ReadStore<ProjectionDb>;
  indexes(): Promise<string[]>;
  analysed(like?: string): Promise<string[]>;
  unlogged(): Promise<string[]>;
}

const COPY_LIKE = 'rm_catalog_%__g7';

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
    unlogged: async () => [],
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
    analysed: (like = COPY_LIKE) =>
      names(`SELECT relname AS name FROM pg_class
              WHERE relname LIKE '${like}' AND relkind = 'r' AND reltuples >= 0
              ORDER BY relname`),
    unlogged: () =>
      names(`SELECT relname AS name FROM pg_class
              WHERE relname LIKE '${COPY_LIKE}' AND relkind = 'r' AND relpersistence = 'u'
              ORDER BY relname`),
  };
}

const COPY_TABLES = [
  'rm_catalog_categories__g7',
  'rm_catalog_page_marks__g7',
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
        const deferring = analyses && kept.length === 0;
        expect(await stack.unlogged()).toEqual(deferring ? COPY_TABLES : []);
        await log.append('catalog', catalogEvents(0));
        await copy.catchUp();
        expect(await stack.unlogged()).toEqual(deferring ? COPY_TABLES : []);
        await copy.buildIndexes();
        expect(await stack.indexes()).toEqual(ALL);
        // Logged again, and analysed, along with the deferred indexes (a copy that defers none
        // is left to autovacuum).
        expect(await stack.unlogged()).toEqual([]);
        expect(await stack.analysed()).toEqual(deferring ? COPY_TABLES : []);
      },
    );

    it('analyses the live tables a projector filled from position 0, once caught up', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tworooms-analyse-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const log = new SqliteEventStore({ path: join(dir, 'write.db') });
      cleanups.push(() => log.close());
      const stack = await open(dir);
      await log.append('catalog', catalogEvents(0));
      const p = projector({ log, store: stack.store, projections: [catalogProjection] });
      cleanups.push(() => p.stop());
      await p.start();
      await p.catchUp();
      // Live tables (no copy suffix); the statistics are gathered as the projection goes live.
      await expect
        .poll(() => stack.analysed('rm_catalog_%'))
        .toEqual(analyses ? COPY_TABLES.map((t) => t.replace('__g7', '')) : []);
    });

    it('derives the page marks once a copy is built, keeps them live after, and verify checks them', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tworooms-marks-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const log = new SqliteEventStore({ path: join(dir, 'write.db') });
      cleanups.push(() => log.close());
      const stack = await open(dir);
      // One product in two is a mark: many marks, many stretches.
      const projection = createCatalogProjection({ pageMarkEvery: 2 });
      await log.append('catalog', catalogEvents(0));
      const p = projector({ log, store: stack.store, projections: [projection], batchSize: 7 });
      cleanups.push(() => p.stop());
      await p.start();
      await p.catchUp();
      const marks = () =>
        stack.store.transact(({ db }) =>
          db.sql.all<Record<string, unknown>>(
            'SELECT listing, name, id, n FROM rm_catalog_page_marks ORDER BY listing, name, id',
          ),
        );
      const live = await marks();
      expect(live.length).toBeGreaterThan(20);

      // Blue/green: the copy is built without marks, derives them, then switches.
      await p.rebuild('catalog');
      expect((await p.status())[0]).toMatchObject({ generation: 1 });
      expect(await marks()).toEqual(live);
      // After the switch they are kept event by event again.
      await log.append('catalog', catalogEvents(1));
      await p.catchUp();
      expect(await marks()).not.toEqual(live);
      const clean = await verifyProjection({ log, store: stack.store, projection });
      expect(clean.differing).toBe(0);

      await stack.store.transact(({ db }) =>
        db.sql.run(
          `UPDATE rm_catalog_page_marks SET n = n + 1
            WHERE listing = 'c1' AND id = (SELECT MAX(id) FROM rm_catalog_page_marks WHERE listing = 'c1')`,
        ),
      );
      const dirty = await verifyProjection({ log, store: stack.store, projection });
      expect(dirty.differing).toBe(1);
      expect(dirty.examples[0]).toMatchObject({ table: 'rm_catalog_page_marks' });
    });
  });
}

const AT = '2026-03-01T10:00:00.000Z';

/**
 * Round 0: three categories, 90 products (names tie in threes), a few deactivated. Round 1:
 * renames, moves, reactivations.
 */
function catalogEvents(round: 0 | 1): ShopEvent[] {
  const events: ShopEvent[] = [];
  if (round === 0) {
    for (const c of ['c1', 'c2', 'c3'])
      events.push({ type: 'CategoryCreated', data: { v: 1, categoryId: c, name: c, at: AT } });
    for (let i = 0; i < 90; i++)
      events.push({
        type: 'ProductAdded',
        data: {
          v: 1,
          productId: `p${i}`,
          sku: `s${i}`,
          name: `Product ${Math.floor(i / 3)}`,
          description: 'd',
          categoryId: `c${(i % 3) + 1}`,
          priceCents: 100,
          maxAllowedPriceCents: null,
          thumbnailUrl: null,
          at: AT,
        },
      });
    for (let i = 0; i < 90; i += 7)
      events.push({ type: 'ProductDeactivated', data: { v: 1, productId: `p${i}`, at: AT } });
    return events;
  }
  for (let i = 0; i < 90; i += 5)
    events.push({
      type: 'ProductDetailsChanged',
      data: { v: 1, productId: `p${i}`, name: `Renamed ${i % 4}`, categoryId: 'c2', at: AT },
    });
  for (let i = 0; i < 90; i += 14)
    events.push({ type: 'ProductActivated', data: { v: 1, productId: `p${i}`, at: AT } });
  return events;
}
