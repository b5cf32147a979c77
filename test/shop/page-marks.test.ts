/**
 * The catalog's page marks (src/shop/catalog/page-marks.ts). Property, on SQLite and PostgreSQL:
 * whatever the products' names (ties, case, accents, the empty name), categories, (de)activations
 * and renames, and wherever a rebuild's `finishBuild` takes over from the building phase,
 * (1) the marks kept event by event are exactly those derived from the finished rows, and
 * (2) every run of entries of every listing found between its page marks is the one `OFFSET`
 * finds.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/core/messages.js';
import { mapReadStore, type ReadStore } from '../../src/core/projection.js';
import type { Sql } from '../../src/core/sql.js';
import {
  ALL_PRODUCTS,
  derivePageMarks,
  MARKS_FROM_OFFSET,
  pageRange,
  pageWhere,
} from '../../src/shop/catalog/page-marks.js';
import { catalogProjection, createCatalogProjection } from '../../src/shop/catalog/projection.js';
import { catalogReadModelQueries } from '../../src/shop/catalog/queries.js';
import type { ShopEvent } from '../../src/shop/events.js';
import type { ProjectionDb } from '../../src/shop/read-db.js';
import { PostgresReadStore, pgSql, postgresFullText } from '../../src/stores/postgres/index.js';
import { createTestDatabase, type TestDatabase } from '../../src/stores/postgres/test-db.js';
import { SqliteReadStore, sqliteFullText, sqliteSql } from '../../src/stores/sqlite/index.js';
import { STACKS, type Stack } from './write-harness.js';

const PRODUCTS = 20; // in the property (the pages test adds its own)
const NAMES = ['Anvil', 'anvil', 'Bolt', 'Émile', 'Emile', 'Zed', '', 'bolt ', 'Ångström'];
const CATEGORIES = ['c1', 'c2', 'c3'];
const AT = '2026-03-01T10:00:00.000Z';

type Op =
  | { kind: 'add'; product: number; name: number; category: number }
  | { kind: 'rename'; product: number; name: number }
  | { kind: 'move'; product: number; category: number }
  | { kind: 'renameAndMove'; product: number; name: number; category: number }
  | { kind: 'active'; product: number; on: boolean };

const product = fc.nat(PRODUCTS - 1);
const name = fc.nat(NAMES.length - 1);
const category = fc.nat(CATEGORIES.length - 1);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('add' as const), product, name, category }),
  },
  fc.record({ kind: fc.constant('rename' as const), product, name }),
  fc.record({ kind: fc.constant('move' as const), product, category }),
  fc.record({ kind: fc.constant('renameAndMove' as const), product, name, category }),
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('active' as const), product, on: fc.boolean() }),
  },
);

/** The events of `ops`, leaving out what touches a product not added yet (or adds one twice). */
function eventsOf(ops: readonly Op[]): RecordedEvent<ShopEvent>[] {
  const added = new Set<number>();
  const events: ShopEvent[] = CATEGORIES.map((categoryId) => ({
    type: 'CategoryCreated',
    data: { v: 1, categoryId, name: categoryId, at: AT },
  }));
  for (const o of ops) {
    const productId = `p${o.product}`;
    if (o.kind === 'add') {
      if (added.has(o.product)) continue;
      added.add(o.product);
      events.push({
        type: 'ProductAdded',
        data: {
          v: 1,
          productId,
          sku: productId,
          name: NAMES[o.name]!,
          description: 'd',
          categoryId: CATEGORIES[o.category]!,
          priceCents: 100,
          maxAllowedPriceCents: null,
          thumbnailUrl: null,
          at: AT,
        },
      });
      continue;
    }
    if (!added.has(o.product)) continue;
    if (o.kind === 'active') {
      events.push({
        type: o.on ? 'ProductActivated' : 'ProductDeactivated',
        data: { v: 1, productId, at: AT },
      });
    } else {
      events.push({
        type: 'ProductDetailsChanged',
        data: {
          v: 1,
          productId,
          ...(o.kind === 'move' ? {} : { name: NAMES[o.name]! }),
          ...(o.kind === 'rename' ? {} : { categoryId: CATEGORIES[o.category]! }),
          at: AT,
        },
      });
    }
  }
  return events.map(
    (e, i) =>
      ({
        ...e,
        id: `e${i}`,
        streamId: 'any',
        streamVersion: BigInt(i + 1),
        position: BigInt(i + 1),
        recordedAt: new Date(AT),
        metadata: {},
      }) as RecordedEvent<ShopEvent>,
  );
}

interface Target {
  readonly store: ReadStore<ProjectionDb>;
  close(): Promise<void>;
}

const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const d of databases) await d.drop();
});

async function open(stack: Stack): Promise<Target> {
  if (stack === 'sqlite') {
    const s = new SqliteReadStore({ path: ':memory:' });
    const store = mapReadStore(s, (db) => ({ sql: sqliteSql(db), fullText: sqliteFullText }));
    return { store, close: () => s.close() };
  }
  const database = await createTestDatabase('tworooms_marks');
  databases.push(database);
  const s = await PostgresReadStore.open({ connectionString: database.url });
  const store = mapReadStore(s, (c) => ({ sql: pgSql(c), fullText: postgresFullText }));
  return { store, close: () => s.close() };
}

const marksOf = (sql: Sql) =>
  sql
    .all<{ listing: string; name: string; id: string; n: number | string }>(
      'SELECT listing, name, id, n FROM rm_catalog_page_marks ORDER BY listing, name, id',
    )
    .then((rows) => rows.map((r) => ({ ...r, n: Number(r.n) })));

/** Every listing's entries in its own order, as the catalog pages list them. */
async function listings(sql: Sql): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  const ids = (where: string, params: unknown[] = []) =>
    sql
      .all<{ id: string }>(
        `SELECT id FROM rm_catalog_products WHERE ${where} ORDER BY name, id`,
        params,
      )
      .then((rows) => rows.map((r) => r.id));
  result.set(ALL_PRODUCTS, await ids('active = 1'));
  for (const c of CATEGORIES) result.set(c, await ids('category_id = ? AND active = 1', [c]));
  return result;
}

/** The `count` entries at `offset` of a listing, found between its page marks. */
async function entriesAt(
  sql: Sql,
  listing: string,
  offset: number,
  count: number,
): Promise<string[]> {
  const page = pageWhere(listing, offset, await pageRange(sql, listing, offset, count), true);
  const rows = await sql.all<{ id: string }>(
    `SELECT id FROM rm_catalog_products WHERE ${page.where} ORDER BY name, id LIMIT ? OFFSET ?`,
    [...page.params, count, page.skip],
  );
  return rows.map((r) => r.id);
}

describe.each(STACKS)('catalog page marks (%s)', (stack) => {
  it('are kept event by event as a rebuild derives them, and bound the entries OFFSET finds', async () => {
    const target = await open(stack);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(op, { minLength: 1, maxLength: 60 }),
          fc.integer({ min: 1, max: 12 }),
          fc.integer({ min: 1, max: 3 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          async (ops, size, every, split) => {
            const projection = createCatalogProjection({ pageMarkEvery: every });
            const events = eventsOf(ops);
            // The first part is applied as a copy being built (no marks kept), the rest live.
            const built = Math.floor(split * events.length);
            const { store } = target;
            await store.transact(async ({ db }) => {
              await projection.setup?.(db);
              await projection.reset?.(db);
            });
            const inBatches = async (part: typeof events, building: boolean) => {
              for (let i = 0; i < part.length; i += size) {
                const batch = part.slice(i, i + size);
                await store.transact(({ db }) => projection.apply(batch, db, { building }));
              }
            };
            await inBatches(events.slice(0, built), true);
            await store.transact(({ db }) => projection.finishBuild?.(db));
            await inBatches(events.slice(built), false);
            await store.transact(async ({ db: { sql } }) => {
              const kept = await marksOf(sql);
              // Derived again from the rows' mark flags, in the database.
              await derivePageMarks(sql);
              expect(kept).toStrictEqual(await marksOf(sql));
              for (const [listing, ids] of await listings(sql)) {
                for (let offset = 0; offset <= ids.length; offset++) {
                  for (const count of [1, 3]) {
                    expect(await entriesAt(sql, listing, offset, count)).toEqual(
                      ids.slice(offset, offset + count),
                    );
                  }
                }
              }
            });
          },
        ),
        { numRuns: stack === 'sqlite' ? 150 : 40 },
      );
    } finally {
      await target.close();
    }
  }, 120_000);
});

describe.each(STACKS)('catalog pages through the page marks (%s)', (stack) => {
  it('answer every page of 3,000 products as OFFSET does, the deep ones from a mark', async () => {
    const target = await open(stack);
    try {
      // 3,000 products over the NAMES (many ties, broken by id), every 7th then deactivated.
      const events = eventsOf([
        ...Array.from(
          { length: 3000 },
          (_, i): Op => ({
            kind: 'add',
            product: i,
            name: i % NAMES.length,
            category: i % CATEGORIES.length,
          }),
        ),
        ...Array.from(
          { length: 429 },
          (_, i): Op => ({ kind: 'active', product: i * 7, on: false }),
        ),
      ]);
      // The first 2,000 events as a rebuild builds them, the rest kept live.
      const { store } = target;
      await store.transact(async ({ db }) => {
        await catalogProjection.setup?.(db);
        await catalogProjection.reset?.(db);
        await catalogProjection.apply(events.slice(0, 2000), db, { building: true });
        await catalogProjection.finishBuild?.(db);
        await catalogProjection.apply(events.slice(2000), db);
      });
      await store.transact(async ({ db }) => {
        const marks = await marksOf(db.sql);
        expect(marks.filter((m) => m.listing === ALL_PRODUCTS).length).toBeGreaterThan(1);
        for (const categoryId of [undefined, 'c2']) {
          const where = categoryId ? "category_id = 'c2' AND active = 1" : 'active = 1';
          const all = (
            await db.sql.all<{ id: string }>(
              `SELECT id FROM rm_catalog_products WHERE ${where} ORDER BY name, id`,
            )
          ).map((r) => r.id);
          const pages = Math.ceil(all.length / 24) + 1;
          expect((pages - 1) * 24).toBeGreaterThan(MARKS_FROM_OFFSET); // deep pages are asked
          for (let page = 1; page <= pages; page++) {
            const answer = await catalogReadModelQueries.CatalogPage.handle(
              { type: 'CatalogPage', data: { page, ...(categoryId ? { categoryId } : {}) } },
              db,
            );
            expect(answer.items.map((i) => i.id)).toEqual(all.slice((page - 1) * 24, page * 24));
            expect(answer.total).toBe(all.length);
          }
        }
      });
    } finally {
      await target.close();
    }
  }, 120_000);
});

describe('a catalog page whose products leave after its marks were read', () => {
  it('reads on past the next mark rather than answer a short page', async () => {
    const target = await open('sqlite');
    try {
      const events = eventsOf(
        Array.from(
          { length: 3000 },
          (_, i): Op => ({
            kind: 'add',
            product: i,
            name: i % NAMES.length,
            category: 0,
          }),
        ),
      );
      await target.store.transact(async ({ db }) => {
        await catalogProjection.setup?.(db);
        await catalogProjection.apply(events, db);
      });
      await target.store.transact(async ({ db }) => {
        // Right after the marks are read, all but 10 products between the page's two marks
        // leave the listing (as a batch committed in between would; the marks are not needed
        // again).
        const racing: Sql = {
          ...db.sql,
          async get<T>(text: string, params?: readonly unknown[]) {
            const row = await db.sql.get<Record<string, string>>(text, params);
            if (text.includes('rm_catalog_page_marks') && row?.['end_name'] !== undefined) {
              await db.sql.run(
                `UPDATE rm_catalog_products SET active = 0 WHERE id IN (
                   SELECT id FROM rm_catalog_products WHERE active = 1
                      AND (name, id) >= (?, ?) AND (name, id) < (?, ?)
                    ORDER BY name, id LIMIT -1 OFFSET 10)`,
                [row['name'], row['id'], row['end_name'], row['end_id']],
              );
            }
            return row as T | undefined;
          },
        };
        const page = Math.floor(MARKS_FROM_OFFSET / 24) + 2;
        const answer = await catalogReadModelQueries.CatalogPage.handle(
          { type: 'CatalogPage', data: { page } },
          { ...db, sql: racing },
        );
        const listed = await db.sql.all<{ id: string }>(
          'SELECT id FROM rm_catalog_products WHERE active = 1 ORDER BY name, id',
        );
        expect(listed.length).toBeGreaterThan(page * 24);
        expect(answer.items).toHaveLength(24);
      });
    } finally {
      await target.close();
    }
  });
});
