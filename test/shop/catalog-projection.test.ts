/**
 * The catalog projection sums a batch's events per product before writing. Property: whatever
 * the batch boundaries, the read model is the same, and it is the plain fold of the log: rating
 * figures sum every review, and the kept reviews are what SQLite's
 * `ORDER BY created_at DESC, id DESC LIMIT 5` picks over all of a product's reviews.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/core/messages.js';
import { mapReadStore, type ReadStore } from '../../src/core/projection.js';
import { catalogProjection, RECENT_REVIEWS } from '../../src/shop/catalog/projection.js';
import {
  compareCodePoints,
  keepNewest,
  type RecentReview,
} from '../../src/shop/catalog/recent-reviews.js';
import type { ShopEvent } from '../../src/shop/events.js';
import type { ProjectionDb } from '../../src/shop/read-db.js';
import { PostgresReadStore, pgSql, postgresFullText } from '../../src/stores/postgres/index.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';
import { SqliteReadStore, sqliteFullText, sqliteSql } from '../../src/stores/sqlite/index.js';

const PRODUCTS = ['p1', 'p2', 'p3'];
const T0 = Date.parse('2025-03-01T00:00:00.000Z');
const at = (minute: number) => new Date(T0 + minute * 60_000).toISOString();
// Id prefixes whose UTF-16 order differs from their code-point (UTF-8, SQLite BINARY) order.
const PREFIXES = ['a', 'z', 'é', '\uE000', '\uFFFD', '\u{10000}', '😀', ''];

type Step =
  | { kind: 'review'; product: number; rating: number; minute: number; prefix: number }
  | {
      kind: 'stock';
      how: 'set' | 'reserve' | 'release';
      product: number;
      warehouse: number;
      quantity: number;
      minute: number;
    }
  | { kind: 'price'; product: number; price: number; minute: number }
  | { kind: 'move'; product: number; category: number }
  | { kind: 'active'; product: number; on: boolean }
  | { kind: 'category'; category: number };

/** c1 exists from the start; c2 and c3 only once a `category` step creates them, if one does. */
const CATEGORIES = ['c1', 'c2', 'c3'];

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('review' as const),
      product: fc.nat(PRODUCTS.length - 1),
      rating: fc.integer({ min: 1, max: 5 }),
      minute: fc.nat(4), // few distinct times: many ties, broken by id
      prefix: fc.nat(PREFIXES.length - 1),
    }),
  },
  fc.record({
    kind: fc.constant('stock' as const),
    // A count sets a warehouse's stock; an order's reservation or release moves it.
    how: fc.constantFrom('set' as const, 'reserve' as const, 'release' as const),
    product: fc.nat(PRODUCTS.length - 1),
    warehouse: fc.nat(2),
    quantity: fc.nat(50),
    minute: fc.integer({ min: -5, max: 5 }), // times out of order, too
  }),
  fc.record({
    kind: fc.constant('price' as const),
    product: fc.nat(PRODUCTS.length - 1),
    price: fc.nat(10_000),
    minute: fc.integer({ min: -5, max: 5 }),
  }),
);

function log(steps: readonly Step[]): RecordedEvent<ShopEvent>[] {
  const events: ShopEvent[] = [
    { type: 'CategoryCreated', data: { v: 1, categoryId: 'c1', name: 'Tea', at: at(0) } },
    ...PRODUCTS.map(
      (productId, i): ShopEvent => ({
        type: 'ProductAdded',
        data: {
          v: 1,
          productId,
          sku: `sku-${i}`,
          name: `Product ${i}`,
          description: 'd',
          categoryId: 'c1',
          priceCents: 100,
          maxAllowedPriceCents: null,
          thumbnailUrl: null,
          at: at(0),
        },
      }),
    ),
  ];
  steps.forEach((s, n) => {
    const productId = PRODUCTS['product' in s ? s.product : 0]!;
    if (s.kind === 'review') {
      events.push({
        type: 'ReviewCreated',
        data: {
          v: 1,
          reviewId: `${PREFIXES[s.prefix]}${n}`,
          productId,
          customerId: 'c',
          authorName: `Author ${n}`,
          rating: s.rating,
          text: `Review ${n}`,
          at: at(s.minute),
        },
      });
    } else if (s.kind === 'stock' && s.how === 'set') {
      events.push({
        type: 'StockLevelSet',
        data: {
          v: 1,
          productId,
          warehouse: `w${s.warehouse}`,
          quantity: s.quantity,
          at: at(s.minute),
        },
      });
    } else if (s.kind === 'stock') {
      events.push({
        type: s.how === 'reserve' ? 'StockReserved' : 'StockReleased',
        data: {
          v: 1,
          productId,
          orderId: `o${n}`,
          warehouse: `w${s.warehouse}`,
          quantity: s.quantity,
          at: at(s.minute),
        },
      });
    } else if (s.kind === 'move') {
      const categoryId = CATEGORIES[s.category]!;
      events.push({
        type: 'ProductDetailsChanged',
        data: { v: 1, productId, categoryId, at: at(n) },
      });
    } else if (s.kind === 'active') {
      events.push({
        type: s.on ? 'ProductActivated' : 'ProductDeactivated',
        data: { v: 1, productId, at: at(n) },
      });
    } else if (s.kind === 'category') {
      const categoryId = CATEGORIES[s.category]!;
      events.push({
        type: 'CategoryCreated',
        data: { v: 1, categoryId, name: categoryId, at: at(n) },
      });
    } else {
      events.push({
        type: 'ProductPriceUpdated',
        data: { v: 1, productId, priceCents: s.price, previousPriceCents: 0, at: at(s.minute) },
      });
    }
  });
  return events.map((e, i) => ({
    ...e,
    id: `e${i}`,
    streamId: 'any',
    streamVersion: BigInt(i + 1),
    position: BigInt(i + 1),
    recordedAt: new Date(T0),
    metadata: {},
  })) as RecordedEvent<ShopEvent>[];
}

/** Applies the log in batches of `size` and returns every catalog table's rows. */
async function project(events: readonly RecordedEvent<ShopEvent>[], size: number) {
  const store = new SqliteReadStore({ path: ':memory:' });
  const db = (d: Database.Database) => ({ sql: sqliteSql(d), fullText: sqliteFullText });
  await store.transact((tx) => catalogProjection.setup?.(db(tx.db)));
  for (let i = 0; i < events.length; i += size) {
    await store.transact((tx) => catalogProjection.apply(events.slice(i, i + size), db(tx.db)));
  }
  const rows = await rowsOf(async (sql) => store.db.prepare(sql).all());
  await store.close();
  return rows;
}

/** Every catalog table's rows, as `project` lists them, read through `sql`. */
async function rowsOf(all: (sql: string) => Promise<unknown[]>) {
  return {
    products: await all('SELECT * FROM rm_catalog_products ORDER BY id'),
    stock: await all('SELECT * FROM rm_catalog_stock ORDER BY product_id, warehouse'),
    reviews: await all('SELECT * FROM rm_catalog_recent_reviews ORDER BY product_id'),
    categories: await all('SELECT * FROM rm_catalog_categories ORDER BY id'),
  };
}

/** `project` on PostgreSQL: the same tables emptied (`reset`), the log applied in batches. */
async function projectPg(
  store: ReadStore<ProjectionDb>,
  events: readonly RecordedEvent<ShopEvent>[],
  size: number,
) {
  await store.transact(async ({ db }) => {
    await catalogProjection.setup?.(db);
    await catalogProjection.reset?.(db);
  });
  for (let i = 0; i < events.length; i += size) {
    await store.transact(({ db }) => catalogProjection.apply(events.slice(i, i + size), db));
  }
  return store.transact(({ db }) => rowsOf((sql) => db.sql.all(sql)));
}

/** What SQLite itself keeps: every review in a table, the newest by its own ordering. */
function sqliteNewest(events: readonly RecordedEvent<ShopEvent>[]): Record<string, RecentReview[]> {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE r (id TEXT, product_id TEXT, rating INTEGER, text TEXT, author_name TEXT,
    created_at INTEGER)`);
  const insert = db.prepare('INSERT INTO r VALUES (?, ?, ?, ?, ?, ?)');
  for (const e of events) {
    if (e.type !== 'ReviewCreated') continue;
    const d = e.data;
    insert.run(d.reviewId, d.productId, d.rating, d.text, d.authorName, Date.parse(d.at));
  }
  const newest: Record<string, RecentReview[]> = {};
  for (const p of PRODUCTS) {
    const rows = db
      .prepare(
        `SELECT id, rating, text, author_name AS authorName, created_at AS createdAt FROM r
          WHERE product_id = ? ORDER BY created_at DESC, id DESC LIMIT ${RECENT_REVIEWS}`,
      )
      .all(p) as RecentReview[];
    if (rows.length > 0) newest[p] = rows;
  }
  db.close();
  return newest;
}

/** The read model of `events` projected whole, checked equal in batches of 1 and of `size`. */
async function projectedAlike(events: Parameters<typeof project>[0], size: number) {
  const whole = await project(events, events.length);
  expect(await project(events, 1)).toStrictEqual(whole);
  expect(await project(events, size)).toStrictEqual(whole);
  return whole;
}

describe('catalog projection', () => {
  it('gives the same read model for any batch size, and the fold of the whole log', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 2, max: 20 }),
        async (steps, size) => {
          const events = log(steps);
          const whole = await projectedAlike(events, size);

          const kept = Object.fromEntries(
            (whole.reviews as { product_id: string; reviews: string }[]).map((r) => [
              r.product_id,
              JSON.parse(r.reviews),
            ]),
          );
          expect(kept).toStrictEqual(sqliteNewest(events));
          for (const [i, id] of PRODUCTS.entries()) {
            const mine = steps.filter((s) => s.kind === 'review' && s.product === i) as Extract<
              Step,
              { kind: 'review' }
            >[];
            const sum = mine.reduce((n, s) => n + s.rating, 0);
            const row = (whole.products as Record<string, unknown>[]).find((p) => p['id'] === id);
            expect(row).toMatchObject({
              rating_sum: sum,
              rating_count: mine.length,
              rating_mean: mine.length === 0 ? 0 : sum / mine.length,
            });
            for (const star of [1, 2, 3, 4, 5]) {
              expect(row?.[`rating_${star}`]).toBe(mine.filter((s) => s.rating === star).length);
            }
          }
          // Stock: each warehouse's units are the fold of its counts and moves, in log order;
          // each product's stock is their sum.
          const units = new Map<string, number>();
          for (const s of steps) {
            if (s.kind !== 'stock') continue;
            const key = `${PRODUCTS[s.product]}|w${s.warehouse}`;
            const was = units.get(key) ?? 0;
            const sign = s.how === 'reserve' ? -1 : 1;
            units.set(key, s.how === 'set' ? s.quantity : was + sign * s.quantity);
          }
          expect(
            Object.fromEntries(
              (whole.stock as { product_id: string; warehouse: string; units: number }[]).map(
                (r) => [`${r.product_id}|${r.warehouse}`, r.units],
              ),
            ),
          ).toStrictEqual(Object.fromEntries(units));
          for (const id of PRODUCTS) {
            const total = [...units].reduce((n, [k, u]) => (k.startsWith(`${id}|`) ? n + u : n), 0);
            const row = (whole.products as Record<string, unknown>[]).find((p) => p['id'] === id);
            expect(row?.['stock']).toBe(total);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

const categoryStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('move' as const),
    product: fc.nat(PRODUCTS.length - 1),
    category: fc.nat(CATEGORIES.length - 1),
  }),
  fc.record({
    kind: fc.constant('active' as const),
    product: fc.nat(PRODUCTS.length - 1),
    on: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('category' as const), category: fc.nat(CATEGORIES.length - 1) }),
  step,
);

// The projection's SQL is written once for both stores: PostgreSQL (its own typing of parameters
// and results, its own ordering of rows) must build exactly the rows SQLite builds.
describe('catalog projection on PostgreSQL', () => {
  let database: TestDatabase | undefined;
  let pgStore: PostgresReadStore | undefined;
  beforeAll(async () => {
    if (!(await postgresReachable())) return;
    database = await createTestDatabase('catalog_projection');
    pgStore = await PostgresReadStore.open({ connectionString: database.url });
  });
  afterAll(async () => {
    await pgStore?.close();
    await database?.drop();
  });

  it('builds the rows SQLite builds, in batches of one and of any size', async (context) => {
    if (!pgStore) return context.skip();
    const store = mapReadStore(pgStore, (c) => ({ sql: pgSql(c), fullText: postgresFullText }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(step, categoryStep), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 2, max: 20 }),
        async (steps, size) => {
          const events = log(steps);
          const sqlite = await project(events, events.length);
          expect(await projectPg(store, events, size)).toStrictEqual(sqlite);
          expect(await projectPg(store, events, 1)).toStrictEqual(sqlite);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('catalog category counts', () => {
  it('count the active products of each category, whatever the batches and the order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(categoryStep, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 2, max: 20 }),
        async (steps, size) => {
          const events = log(steps);
          const whole = await projectedAlike(events, size);
          const products = whole.products as { category_id: string; active: number }[];
          for (const c of whole.categories as { id: string; product_count: number }[]) {
            const active = products.filter((p) => p.category_id === c.id && p.active === 1);
            // Also when products moved into a category before it was created.
            expect(c.product_count).toBe(active.length);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('recent reviews', () => {
  it('compares strings as SQLite BINARY does (code points, not UTF-16 units)', () => {
    const db = new Database(':memory:');
    const strings = ['', 'a', 'ab', 'b', 'é', '\uE000', '\uFFFD', '\u{10000}', '😀', '😀a', 'Z'];
    const sqlite = db
      .prepare(`SELECT value FROM json_each(?) ORDER BY value`)
      .pluck()
      .all(JSON.stringify(strings));
    expect([...strings].sort(compareCodePoints)).toEqual(sqlite);
    expect(['\uE000', '\u{10000}'].sort()).toEqual(['\u{10000}', '\uE000']); // why it is needed
    db.close();
  });

  it('keeps the newest, newest first, ignores a repeat and says whether anything changed', () => {
    const r = (id: string, createdAt: number): RecentReview => ({
      id,
      rating: 5,
      text: '',
      authorName: '',
      createdAt,
    });
    const kept: RecentReview[] = [];
    expect(keepNewest(kept, r('b', 1), 2)).toBe(true);
    expect(keepNewest(kept, r('a', 1), 2)).toBe(true);
    expect(keepNewest(kept, r('a', 0), 2)).toBe(false); // older than both kept
    expect(keepNewest(kept, r('b', 1), 2)).toBe(false); // the same review again
    expect(keepNewest(kept, r('c', 1), 2)).toBe(true);
    expect(kept.map((k) => k.id)).toEqual(['c', 'b']);
  });
});
