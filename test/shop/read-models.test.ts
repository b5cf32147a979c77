import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../../src/core/event-log.js';
import type { FullTextIndex } from '../../src/core/full-text.js';
import { mapReadStore, type ReadStore } from '../../src/core/projection.js';
import { Projector } from '../../src/core/projector.js';
import { type QueryBus, queryBus } from '../../src/core/query-bus.js';
import type { Sql } from '../../src/core/sql.js';
import { mapWriteStore, type WriteStore, type WriteTx } from '../../src/core/write-store.js';
import { shopReadIndexes } from '../../src/shop/catalog/l1-indexes.js';
import { ADMIN, LOW_STOCK_THRESHOLD } from '../../src/shop/commands.js';
import { type OrderLine, type ShopEvent, streams } from '../../src/shop/events.js';
import {
  type ShopQuery,
  type ShopQueryHandlers,
  shopProjections,
  shopQueryHandlers,
} from '../../src/shop/query-handlers.js';
import type { ProjectionDb, QueryDb } from '../../src/shop/read-db.js';
import { shopMigrations } from '../../src/shop/schema.js';
import {
  migrate as migratePostgres,
  openPool,
  PostgresEventStore,
  PostgresReadStore,
  pgSql,
  postgresFullText,
} from '../../src/stores/postgres/index.js';
import { createTestDatabase, type TestDatabase } from '../../src/stores/postgres/test-db.js';
import {
  migrate,
  SqliteEventStore,
  SqliteReadStore,
  sqliteFullText,
  sqliteSql,
} from '../../src/stores/sqlite/index.js';
import { STACKS } from './write-harness.js';

// -------------------------------------------------------------------------------------------
// A test-only write side: the normalized rows and the events a command handler would write, in
// one transaction, so that both read modes see the same facts. (The real handlers live in
// src/shop/*/handlers.ts; this fixture does not depend on them.)

const PRODUCTS_FTS = 'products_fts';

class ShopWriter {
  readonly sql: Sql;
  constructor(
    private readonly tx: WriteTx<Sql>,
    private readonly clock: Clock,
    private readonly fullText: FullTextIndex,
  ) {
    this.sql = tx.db;
  }

  private record(stream: string, events: readonly ShopEvent[]) {
    return this.tx.record(stream, events, { metadata: { actor: ADMIN } });
  }

  private async categoryName(categoryId: string): Promise<string> {
    const row = await this.sql.get<{ name: string }>('SELECT name FROM categories WHERE id = ?', [
      categoryId,
    ]);
    return row!.name;
  }

  /** products_fts holds exactly the active products (title: name, body: description, extra: category). */
  private async reindex(productId: string): Promise<void> {
    const p = await this.sql.get<{
      name: string;
      description: string;
      category_id: string;
      active: number;
    }>('SELECT name, description, category_id, active FROM products WHERE id = ?', [productId]);
    if (p && p.active === 1) {
      await this.fullText.upsert(this.sql, PRODUCTS_FTS, {
        id: productId,
        title: p.name,
        body: p.description,
        extra: await this.categoryName(p.category_id),
      });
    } else await this.fullText.remove(this.sql, PRODUCTS_FTS, productId);
  }

  async category(categoryId: string, name: string) {
    const { ms, at } = this.clock.tick();
    await this.sql.run('INSERT INTO categories (id, name, created_at) VALUES (?, ?, ?)', [
      categoryId,
      name,
      ms,
    ]);
    await this.record(streams.category(categoryId), [
      { type: 'CategoryCreated', data: { v: 1, categoryId, name, at } },
    ]);
  }

  async product(p: {
    id: string;
    name: string;
    description: string;
    categoryId: string;
    priceCents: number;
    thumbnailUrl: string | null;
  }) {
    const { ms, at } = this.clock.tick();
    const sku = `SKU-${p.id.toUpperCase()}`;
    await this.sql.run(
      `INSERT INTO products (id, sku, name, description, category_id, price_cents,
         max_allowed_price_cents, thumbnail_url, active, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
      [
        p.id,
        sku,
        p.name,
        p.description,
        p.categoryId,
        p.priceCents,
        100_000,
        p.thumbnailUrl,
        ms,
        ms,
      ],
    );
    await this.reindex(p.id);
    await this.record(streams.product(p.id), [
      {
        type: 'ProductAdded',
        data: {
          v: 1,
          productId: p.id,
          sku,
          name: p.name,
          description: p.description,
          categoryId: p.categoryId,
          priceCents: p.priceCents,
          maxAllowedPriceCents: 100_000,
          thumbnailUrl: p.thumbnailUrl,
          at,
        },
      },
    ]);
  }

  async price(productId: string, priceCents: number) {
    const { ms, at } = this.clock.tick();
    const previous = await this.sql.get<{ price_cents: number }>(
      'SELECT price_cents FROM products WHERE id = ?',
      [productId],
    );
    await this.sql.run('UPDATE products SET price_cents = ?, updated_at = ? WHERE id = ?', [
      priceCents,
      ms,
      productId,
    ]);
    await this.record(streams.product(productId), [
      {
        type: 'ProductPriceUpdated',
        data: { v: 1, productId, priceCents, previousPriceCents: previous!.price_cents, at },
      },
    ]);
  }

  async details(
    productId: string,
    changes: {
      name?: string;
      description?: string;
      categoryId?: string;
      thumbnailUrl?: string | null;
    },
  ) {
    const { ms, at } = this.clock.tick();
    const row = await this.sql.get<{ category_id: string }>(
      'SELECT category_id FROM products WHERE id = ?',
      [productId],
    );
    const sets = ['updated_at = ?'];
    const params: unknown[] = [ms];
    if (changes.name !== undefined) {
      sets.push('name = ?');
      params.push(changes.name);
    }
    if (changes.description !== undefined) {
      sets.push('description = ?');
      params.push(changes.description);
    }
    if (changes.categoryId !== undefined) {
      sets.push('category_id = ?');
      params.push(changes.categoryId);
    }
    if (changes.thumbnailUrl !== undefined) {
      sets.push('thumbnail_url = ?');
      params.push(changes.thumbnailUrl);
    }
    await this.sql.run(`UPDATE products SET ${sets.join(', ')} WHERE id = ?`, [
      ...params,
      productId,
    ]);
    if (changes.name ?? changes.description ?? changes.categoryId) await this.reindex(productId);
    await this.record(streams.product(productId), [
      {
        type: 'ProductDetailsChanged',
        data: {
          v: 1,
          productId,
          ...changes,
          ...(changes.categoryId ? { previousCategoryId: row!.category_id } : {}),
          at,
        },
      },
    ]);
  }

  async setActive(productId: string, active: boolean) {
    const { ms, at } = this.clock.tick();
    await this.sql.run('UPDATE products SET active = ?, updated_at = ? WHERE id = ?', [
      active ? 1 : 0,
      ms,
      productId,
    ]);
    await this.reindex(productId);
    await this.record(streams.product(productId), [
      active
        ? { type: 'ProductActivated', data: { v: 1, productId, at } }
        : { type: 'ProductDeactivated', data: { v: 1, productId, at } },
    ]);
  }

  async stock(productId: string, warehouse: string, quantity: number) {
    const { ms, at } = this.clock.tick();
    await this.sql.run('UPDATE products SET updated_at = ? WHERE id = ?', [ms, productId]);
    await this.sql.run(
      `INSERT INTO inventory (product_id, warehouse, quantity) VALUES (?, ?, ?)
       ON CONFLICT (product_id, warehouse) DO UPDATE SET quantity = excluded.quantity`,
      [productId, warehouse, quantity],
    );
    await this.record(streams.product(productId), [
      { type: 'StockLevelSet', data: { v: 1, productId, warehouse, quantity, at } },
    ]);
  }

  async customer(customerId: string, name: string) {
    const { ms, at } = this.clock.tick();
    await this.sql.run(
      'INSERT INTO customers (id, email, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)',
      [customerId, `${customerId}@example.test`, name, `hash-${customerId}`, ms],
    );
    await this.record(streams.customer(customerId), [
      { type: 'CustomerRegistered', data: { v: 1, customerId, name, at } },
    ]);
  }

  async review(reviewId: string, productId: string, customerId: string, rating: number) {
    const { ms, at } = this.clock.tick();
    const text = `Review ${reviewId}: ${rating} stars`;
    await this.sql.run(
      'INSERT INTO reviews (id, product_id, customer_id, rating, text, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      [reviewId, productId, customerId, rating, text, ms],
    );
    const author = await this.sql.get<{ name: string }>('SELECT name FROM customers WHERE id = ?', [
      customerId,
    ]);
    await this.record(streams.product(productId), [
      {
        type: 'ReviewCreated',
        data: { v: 1, reviewId, productId, customerId, authorName: author!.name, rating, text, at },
      },
    ]);
  }

  /** Prices from the catalog; stock taken from the warehouses with most units first. */
  async order(orderId: string, customerId: string, lines: [productId: string, quantity: number][]) {
    const { ms, at } = this.clock.tick();
    const items: OrderLine[] = [];
    for (const [productId, quantity] of lines) {
      const p = await this.sql.get<{ name: string; price_cents: number }>(
        'SELECT name, price_cents FROM products WHERE id = ?',
        [productId],
      );
      items.push({ productId, name: p!.name, quantity, unitPriceCents: p!.price_cents });
    }
    const totalCents = items.reduce((s, l) => s + l.quantity * l.unitPriceCents, 0);
    await this.sql.run(
      `INSERT INTO orders (id, customer_id, status, total_cents, created_at, updated_at)
       VALUES (?, ?, 'placed', ?, ?, ?)`,
      [orderId, customerId, totalCents, ms, ms],
    );
    const events: ShopEvent[] = [];
    for (const [i, l] of items.entries()) {
      await this.sql.run(
        `INSERT INTO order_lines (order_id, line_no, product_id, name, quantity, unit_price_cents)
         VALUES (?, ?, ?, ?, ?, ?)`,
        [orderId, i + 1, l.productId, l.name, l.quantity, l.unitPriceCents],
      );
      let remaining = l.quantity;
      const stock = await this.sql.all<{ warehouse: string; quantity: number }>(
        `SELECT warehouse, quantity FROM inventory WHERE product_id = ? AND quantity > 0
          ORDER BY quantity DESC, warehouse`,
        [l.productId],
      );
      for (const s of stock) {
        const units = Math.min(remaining, s.quantity);
        if (units === 0) break;
        remaining -= units;
        await this.sql.run(
          'UPDATE inventory SET quantity = quantity - ? WHERE product_id = ? AND warehouse = ?',
          [units, l.productId, s.warehouse],
        );
        await this.sql.run(
          'INSERT INTO order_reservations (order_id, product_id, warehouse, quantity) VALUES (?, ?, ?, ?)',
          [orderId, l.productId, s.warehouse, units],
        );
        events.push({
          type: 'StockReserved',
          data: {
            v: 1,
            productId: l.productId,
            orderId,
            warehouse: s.warehouse,
            quantity: units,
            at,
          },
        });
      }
      if (remaining > 0) throw new Error(`fixture: not enough stock of ${l.productId}`);
    }
    events.push({
      type: 'OrderPlaced',
      data: { v: 1, orderId, customerId, items, totalCents, at },
    });
    await this.record(streams.order(orderId), events);
    return totalCents;
  }

  async cancel(orderId: string) {
    const { ms, at } = this.clock.tick();
    const order = await this.sql.get<{ customer_id: string; total_cents: number }>(
      'SELECT customer_id, total_cents FROM orders WHERE id = ?',
      [orderId],
    );
    await this.sql.run("UPDATE orders SET status = 'cancelled', updated_at = ? WHERE id = ?", [
      ms,
      orderId,
    ]);
    const reserved = await this.sql.all<{
      product_id: string;
      warehouse: string;
      quantity: number;
    }>(
      `SELECT product_id, warehouse, quantity FROM order_reservations WHERE order_id = ?
        ORDER BY product_id, warehouse`,
      [orderId],
    );
    const events: ShopEvent[] = [];
    for (const r of reserved) {
      await this.sql.run(
        'UPDATE inventory SET quantity = quantity + ? WHERE product_id = ? AND warehouse = ?',
        [r.quantity, r.product_id, r.warehouse],
      );
      events.push({
        type: 'StockReleased',
        data: {
          v: 1,
          productId: r.product_id,
          orderId,
          warehouse: r.warehouse,
          quantity: r.quantity,
          at,
        },
      });
    }
    await this.sql.run('DELETE FROM order_reservations WHERE order_id = ?', [orderId]);
    const lines = await this.sql.all<{
      product_id: string;
      name: string;
      quantity: number;
      unit_price_cents: number;
    }>(
      'SELECT product_id, name, quantity, unit_price_cents FROM order_lines WHERE order_id = ? ORDER BY line_no',
      [orderId],
    );
    events.push({
      type: 'OrderCancelled',
      data: {
        v: 1,
        orderId,
        customerId: order!.customer_id,
        items: lines.map((l) => ({
          productId: l.product_id,
          name: l.name,
          quantity: l.quantity,
          unitPriceCents: l.unit_price_cents,
        })),
        totalCents: order!.total_cents,
        at,
      },
    });
    await this.record(streams.order(orderId), events);
  }
}

/** The fixture's "now": 10 s later at every command, unless held (same instant again). */
class Clock {
  private ms: number;
  constructor(start: string) {
    this.ms = Date.parse(start);
  }
  set(at: string) {
    this.ms = Date.parse(at);
  }
  /** The next command happens at the same instant as the previous one. */
  hold() {
    this.ms -= 10_000;
  }
  tick() {
    const ms = this.ms;
    this.ms += 10_000;
    return { ms, at: new Date(ms).toISOString() };
  }
}

// -------------------------------------------------------------------------------------------
// The catalog: 64 products in 4 categories (+1 empty), 3 warehouses, 6 customers.

const ORIGINS = ['Assam', 'Darjeeling', 'Ceylon', 'Yunnan', 'Nilgiri', 'Kenya', 'Uji', 'Fujian'];
const ORIGINS_2 = ['Anhui', 'Taiwan', 'Kyoto', 'Hunan', 'Sichuan'];
const KINDS = ['Black', 'Green', 'Oolong', 'White'];
const FLAVOURS = ['smoky', 'floral', 'malty', 'grassy', 'honeyed'];
const pid = (n: number) => `p${String(n).padStart(2, '0')}`;
const teaPrice = (n: number) => 800 + (n - 1) * 25;

interface ProductSpec {
  id: string;
  name: string;
  description: string;
  categoryId: string;
  priceCents: number;
  thumbnailUrl: string | null;
}

function catalog(): ProductSpec[] {
  const specs: ProductSpec[] = [];
  const add = (name: string, description: string, categoryId: string, priceCents: number) => {
    const id = pid(specs.length + 1);
    const thumbnailUrl = (specs.length + 1) % 7 === 0 ? null : `https://img.example/${id}.jpg`;
    specs.push({ id, name, description, categoryId, priceCents, thumbnailUrl });
  };
  [...ORIGINS, ...ORIGINS_2].forEach((origin, o) => {
    KINDS.forEach((kind, k) => {
      const n = o * 4 + k + 1;
      add(
        `${origin} ${kind}`,
        `${kind.toLowerCase()} tea from ${origin}, ${FLAVOURS[n % 5]} notes`,
        'tea',
        teaPrice(n),
      );
    });
  });
  add('Espresso Roast', 'dark roasted beans, smoky', 'coffee', 1400); // p53
  add('Colombia Supremo', 'medium roast, nutty', 'coffee', 1300); // p54
  add('Ethiopia Yirgacheffe', 'light roast, floral and citrus', 'coffee', 1600); // p55
  add('Decaf Blend', 'swiss water process', 'coffee', 1200); // p56
  add('Kenya AA', 'bright and winey', 'coffee', 1700); // p57
  add('Bamboo Whisk', 'for matcha', 'kitchen', 900); // p58
  add('Cast Iron Teapot', 'keeps tea warm', 'kitchen', 4500); // p59
  add('Glass Kettle', 'see the leaves unfurl', 'kitchen', 3200); // p60
  add('Ceramic Mug', 'handmade stoneware', 'kitchen', 1800); // p61
  add('Chai Blend', 'spiced black tea', 'gifts', 1100); // p62
  add('Chai Blend', 'spiced black tea, gift tin', 'gifts', 1500); // p63
  add('Tea Sampler Box', 'twelve teas to try', 'gifts', 2500); // p64
  return specs;
}

/** Units per warehouse; products not listed get the default spread. */
const SPECIAL_STOCK: Record<string, Record<string, number>> = {
  p03: { east: 3 },
  p07: {}, // never stocked
  p10: { north: 4 },
  p15: { north: 8, south: 4 },
  p22: { north: 10 },
  p33: { north: 11 },
  p40: { north: 6 },
  p58: {}, // never stocked
};

const DAY1 = '2025-03-01';
const DAY2 = '2025-03-02';

/** Phase 1: the bulk load, with day-1 and day-2 activity. */
async function phase1(w: ShopWriter, clock: Clock) {
  clock.set(`${DAY1}T06:00:00.000Z`);
  await w.category('tea', 'Tea');
  await w.category('coffee', 'Coffee');
  await w.category('kitchen', 'Kitchenware');
  await w.category('gifts', 'Gifts');
  await w.category('empty', 'Empty shelf');
  for (const spec of catalog()) await w.product(spec);
  for (const [i, spec] of catalog().entries()) {
    const special = SPECIAL_STOCK[spec.id];
    if (special) {
      for (const [warehouse, units] of Object.entries(special))
        await w.stock(spec.id, warehouse, units);
    } else {
      await w.stock(spec.id, 'north', 20);
      await w.stock(spec.id, 'south', 10 + (i % 5));
      await w.stock(spec.id, 'east', 5);
    }
  }
  const customers = ['Ada', 'Grace', 'Linus', 'Barbara', 'Edsger', 'Margaret'];
  for (const [i, name] of customers.entries()) await w.customer(`c${i + 1}`, name);

  // Reviews. p01: 7 reviews (sum 24): 3.43, histogram 1,1,1,2,2; the last two at the same instant.
  const p01 = [5, 4, 4, 3, 5, 1, 2];
  for (const [i, rating] of p01.entries()) {
    if (i === 6) clock.hold();
    await w.review(`r01-${i + 1}`, 'p01', `c${(i % 6) + 1}`, rating);
  }
  await w.review('r02-1', 'p02', 'c1', 5); // mean 5
  await w.review('r04-1', 'p04', 'c2', 5); // mean 5 too: after p02 by name
  await w.review('r04-2', 'p04', 'c3', 5);
  await w.review('r06-1', 'p06', 'c1', 4); // 4.5
  await w.review('r06-2', 'p06', 'c2', 5);
  await w.review('r09-1', 'p09', 'c4', 4); // 4
  await w.review('r10-1', 'p10', 'c5', 5); // deactivated later: never "related"
  await w.review('r30-1', 'p30', 'c6', 3);
  await w.review('r55-1', 'p55', 'c1', 1); // 1.5
  await w.review('r55-2', 'p55', 'c2', 2);
  await w.review('r56-1', 'p56', 'c3', 2); // 2.67
  await w.review('r56-2', 'p56', 'c4', 3);
  await w.review('r56-3', 'p56', 'c5', 3);
  await w.review('r62-1', 'p62', 'c6', 4);
  await w.review('r63-1', 'p63', 'c1', 4);

  // Day 1 orders (o4 will be cancelled on day 2).
  clock.set(`${DAY1}T14:00:00.000Z`);
  await w.order('o1', 'c1', [
    ['p01', 2],
    ['p05', 1],
  ]);
  await w.order('o2', 'c2', [['p15', 5]]);
  await w.order('o3', 'c3', [
    ['p01', 1],
    ['p02', 3],
  ]);
  await w.order('o4', 'c1', [['p50', 4]]);
  await w.order('o8', 'c4', [['p10', 2]]);
  await w.setActive('p11', false);
  await w.setActive('p11', true);

  // Day 2: a price change, orders, cancellations, a deactivation, a category change, details.
  clock.set(`${DAY2}T09:00:00.000Z`);
  await w.price('p05', 1100);
  await w.order('o5', 'c4', [
    ['p05', 2],
    ['p01', 1],
  ]);
  await w.order('o6', 'c2', [
    ['p02', 1],
    ['p03', 1],
  ]);
  await w.order('o7', 'c5', [['p50', 1]]);
  await w.cancel('o4');
  await w.cancel('o7');
  await w.setActive('p10', false);
  await w.details('p20', { categoryId: 'gifts' });
  await w.details('p30', {
    name: 'Zhejiang Longjing',
    description: 'pan-fired green tea, chestnut notes',
  });
  await w.details('p31', { thumbnailUrl: null });
}

/** Phase 2: live changes after the projector has caught up. */
async function phase2(w: ShopWriter, clock: Clock) {
  clock.set(`${DAY2}T15:00:00.000Z`);
  await w.product({
    id: 'p65',
    name: 'Assam Breakfast',
    description: 'a strong black tea blend for mornings',
    categoryId: 'tea',
    priceCents: 950,
    thumbnailUrl: null,
  });
  await w.review('r03-1', 'p03', 'c2', 4);
  await w.review('r01-8', 'p01', 'c3', 5);
  await w.order('o9', 'c3', [['p15', 7]]); // all of p15's stock
  await w.cancel('o2'); // placed on day 1: day 1's figures lose it
  await w.price('p02', 700);
  await w.stock('p40', 'north', 30);
  await w.setActive('p53', false);
  await w.details('p54', {
    categoryId: 'gifts',
    description: 'medium roast, nutty, in a gift tin',
  });
  await w.review('r54-1', 'p54', 'c4', 5);
}

// -------------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'tworooms-rm-'));
// The SQLite stack's stores (the rebuild tests below read its files).
let store: SqliteEventStore;
let read: SqliteReadStore;
const closers: (() => unknown)[] = [];

const projectionDbOf = (s: SqliteReadStore): ReadStore<ProjectionDb> =>
  mapReadStore(s, (db) => ({ sql: sqliteSql(db), fullText: sqliteFullText }));
const projections = () => shopProjections();

/** One stack's write side, read side, projector and both query buses. */
interface StackUnderTest {
  write(fn: (w: ShopWriter, c: Clock) => Promise<void>): Promise<void>;
  readonly live: Projector<ProjectionDb>;
  readonly l1: QueryBus<ShopQueryHandlers, QueryDb>;
  readonly l2: QueryBus<ShopQueryHandlers, QueryDb>;
  /** The write DB, outside any transaction. */
  readonly sql: Sql;
  close(): Promise<void>;
}

/** Loads phase 1 into a fresh stack and projects it, in small batches, as live. */
async function startStack(
  writeStore: WriteStore<Sql>,
  log: EventLog,
  readStore: ReadStore<ProjectionDb>,
  fullText: FullTextIndex,
  readers: { write: Sql; read: Sql; sql: Sql },
): Promise<Omit<StackUnderTest, 'close'>> {
  const clock = new Clock(`${DAY1}T06:00:00.000Z`);
  const write = async (fn: (w: ShopWriter, c: Clock) => Promise<void>) => {
    await writeStore.transact((tx) => fn(new ShopWriter(tx, clock, fullText), clock));
  };
  await write(phase1);
  // Small batches: a product's events straddle batches, as they do live.
  const live = new Projector({ log, store: readStore, projections: projections(), batchSize: 23 });
  await live.start();
  await caughtUp(live);
  return {
    write,
    live,
    l1: queryBus(shopQueryHandlers('write-db'), { db: { sql: readers.write, fullText } }),
    l2: queryBus(shopQueryHandlers('read-model'), { db: { sql: readers.read, fullText } }),
    sql: readers.sql,
  };
}

async function sqliteStack(): Promise<StackUnderTest> {
  store = new SqliteEventStore({ path: join(dir, 'write.db') });
  migrate(store.db, [...shopMigrations, ...shopReadIndexes]);
  await sqliteFullText.setup(sqliteSql(store.db), PRODUCTS_FTS);
  read = new SqliteReadStore({ path: join(dir, 'read.db') });
  const writeReader = store.readOnly();
  const readReader = read.readOnly();
  closers.push(
    () => writeReader.close(),
    () => readReader.close(),
  );
  const stack = await startStack(
    mapWriteStore(store, sqliteSql),
    store,
    projectionDbOf(read),
    sqliteFullText,
    { write: sqliteSql(writeReader), read: sqliteSql(readReader), sql: sqliteSql(store.db) },
  );
  return { ...stack, close: async () => stack.live.stop() };
}

async function postgresStack(): Promise<StackUnderTest> {
  const dbs = await Promise.all([createTestDatabase('tw_rm_w'), createTestDatabase('tw_rm_r')]);
  const [w, r] = dbs as [TestDatabase, TestDatabase];
  const pgStore = await PostgresEventStore.open({ connectionString: w.url, poolSize: 4 });
  await migratePostgres(pgStore.pool, [...shopMigrations, ...shopReadIndexes]);
  await postgresFullText.setup(pgSql(pgStore.pool), PRODUCTS_FTS);
  const pgRead = await PostgresReadStore.open({ connectionString: r.url });
  const writeReader = openPool({ connectionString: w.url, max: 4, readOnly: true });
  const readStore = mapReadStore(pgRead, (db) => ({ sql: pgSql(db), fullText: postgresFullText }));
  await readStore.setup(projections());
  const stack = await startStack(
    mapWriteStore(pgStore, pgSql),
    pgStore.log,
    readStore,
    postgresFullText,
    { write: pgSql(writeReader), read: pgSql(pgRead.readOnly()), sql: pgSql(pgStore.pool) },
  );
  return {
    ...stack,
    async close() {
      await stack.live.stop();
      await writeReader.end();
      await pgRead.close();
      await pgStore.close();
      await Promise.all(dbs.map((d) => d.drop()));
    },
  };
}

async function caughtUp(p: Projector<ProjectionDb>) {
  const outcome = await p.catchUp(20_000);
  expect(outcome).toEqual({ reached: true });
}

let sqliteUnderTest: StackUnderTest;
/** The stack the agreement tests run on (SQLite, then PostgreSQL when reachable). */
let current: StackUnderTest;
let l1: StackUnderTest['l1'];
let l2: StackUnderTest['l2'];
const write = (fn: (w: ShopWriter, c: Clock) => Promise<void>) => current.write(fn);

beforeAll(async () => {
  sqliteUnderTest = await sqliteStack();
  current = sqliteUnderTest;
  ({ l1, l2 } = sqliteUnderTest);
});

afterAll(async () => {
  await sqliteUnderTest?.close();
  for (const close of closers) close();
  await read?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every query, with several parameter values each. */
async function everyQuery(): Promise<ShopQuery[]> {
  const db = current.sql;
  const productIds = (await db.all<{ id: string }>('SELECT id FROM products ORDER BY id')).map(
    (r) => r.id,
  );
  const orderIds = (await db.all<{ id: string }>('SELECT id FROM orders ORDER BY id')).map(
    (r) => r.id,
  );
  const customerIds = (await db.all<{ id: string }>('SELECT id FROM customers ORDER BY id')).map(
    (r) => r.id,
  );
  const queries: ShopQuery[] = [
    { type: 'ListCategories', data: {} },
    { type: 'RecentlyUpdated', data: {} },
  ];
  for (const categoryId of [undefined, 'tea', 'coffee', 'kitchen', 'gifts', 'empty', 'no-such']) {
    for (const page of [1, 2, 3, 4, 5]) {
      queries.push({ type: 'CatalogPage', data: categoryId ? { categoryId, page } : { page } });
    }
  }
  for (const productId of [...productIds, 'no-such']) {
    queries.push({ type: 'ProductDetail', data: { productId } });
  }
  const words = [
    'tea',
    'te',
    't',
    'green tea',
    'GREEN TE',
    'assam bl',
    'smoky',
    'floral notes',
    'kitchenware',
    'gifts',
    'gift',
    'kenya',
    'chai',
    'chai blend',
    'cast iron',
    'teapot',
    'chestnut',
    'fujian green', // p30's old name
    'zhejiang',
    'ceylon green', // p10 is inactive
    'espresso',
    'nutty',
    'no such thing',
    '',
    '"',
    'NEAR(',
    'black -tea',
    'mugs*',
  ];
  for (const q of words) {
    for (const page of [1, 2, 3]) queries.push({ type: 'SearchProducts', data: { q, page } });
  }
  for (const orderId of [...orderIds, 'no-such'])
    queries.push({ type: 'OrderById', data: { orderId } });
  for (const customerId of [...customerIds, 'no-such']) {
    queries.push({ type: 'CustomerOrders', data: { customerId } });
  }
  for (const now of [
    `${DAY1}T12:00:00.000Z`,
    `${DAY1}T23:59:59.999Z`,
    `${DAY2}T00:00:00.000Z`,
    `${DAY2}T20:00:00.000Z`,
    '2025-03-03T08:00:00.000Z',
    '2025-02-28T08:00:00.000Z',
  ]) {
    queries.push({ type: 'AdminDashboard', data: { now } });
  }
  return queries;
}

async function expectModesAgree() {
  const queries = await everyQuery();
  expect(queries.length).toBeGreaterThan(200);
  for (const query of queries) {
    const [a, b] = await Promise.all([current.l2.ask(query), current.l1.ask(query)]);
    expect({ query, answer: a.value }).toStrictEqual({ query, answer: b.value });
  }
  return queries.length;
}

const ask = async <Q extends ShopQuery>(query: Q) => (await current.l2.ask(query)).value;

describe.each(STACKS)(
  'shop read models: level 2 (read DB) and level 1 (write DB) agree (%s)',
  (stack) => {
    if (stack === 'postgres') {
      beforeAll(async () => {
        current = await postgresStack();
      }, 60_000);
      afterAll(async () => {
        const pg = current;
        current = sqliteUnderTest;
        await pg?.close();
      });
    }

    it('after the bulk load, on every query', async () => {
      await expectModesAgree();
    });

    it('have the expected values (checked by hand)', async () => {
      const tea = await ask({ type: 'CatalogPage', data: { categoryId: 'tea', page: 1 } });
      expect(tea.total).toBe(50); // 52 tea products, p10 deactivated, p20 moved to gifts
      expect(tea.pageSize).toBe(24);
      expect(tea.items).toHaveLength(24);
      expect(tea.items.slice(0, 5).map((i) => i.name)).toEqual([
        'Anhui Black',
        'Anhui Green',
        'Anhui Oolong',
        'Anhui White',
        'Assam Black',
      ]);
      expect(tea.items[4]).toStrictEqual({
        id: 'p01',
        name: 'Assam Black',
        priceCents: 800,
        stockAvailable: true,
        avgRating: 3.43, // 24 / 7
        reviewCount: 7,
        categoryName: 'Tea',
        thumbnailUrl: 'https://img.example/p01.jpg',
      });
      const pages = await Promise.all(
        [2, 3, 4].map((page) => ask({ type: 'CatalogPage', data: { categoryId: 'tea', page } })),
      );
      expect(pages.map((p) => p.items.length)).toEqual([24, 2, 0]);
      const names = [tea, ...pages].flatMap((p) => p.items.map((i) => i.name));
      expect(names).toEqual([...names].sort());
      expect(names).not.toContain('Ceylon Green');

      const gifts = await ask({ type: 'CatalogPage', data: { categoryId: 'gifts', page: 1 } });
      // Equal names: by id. p20 (Nilgiri White) moved here.
      expect(gifts.items.map((i) => i.id)).toEqual(['p62', 'p63', 'p20', 'p64']);
      expect(gifts.items[2]?.categoryName).toBe('Gifts');
      expect((await ask({ type: 'CatalogPage', data: { page: 1 } })).total).toBe(63);

      expect(await ask({ type: 'ListCategories', data: {} })).toStrictEqual({
        items: [
          { id: 'coffee', name: 'Coffee', productCount: 5 },
          { id: 'empty', name: 'Empty shelf', productCount: 0 },
          { id: 'gifts', name: 'Gifts', productCount: 4 },
          { id: 'kitchen', name: 'Kitchenware', productCount: 4 },
          { id: 'tea', name: 'Tea', productCount: 50 },
        ],
      });

      const p01 = await ask({ type: 'ProductDetail', data: { productId: 'p01' } });
      expect(p01?.ratingHistogram).toStrictEqual({ '1': 1, '2': 1, '3': 1, '4': 2, '5': 2 });
      expect(p01?.stock).toBe(31); // 20 + 10 + 5, less 4 sold from the north warehouse
      expect(p01?.sku).toBe('SKU-P01');
      expect(p01?.active).toBe(true);
      // The 5 newest; r01-6 and r01-7 share an instant: the greater id first.
      expect(p01?.recentReviews.map((r) => r.id)).toEqual([
        'r01-7',
        'r01-6',
        'r01-5',
        'r01-4',
        'r01-3',
      ]);
      expect(p01?.recentReviews[0]).toMatchObject({ rating: 2, authorName: 'Ada' });
      // Best rated first (equal means by name), never itself nor an inactive product.
      expect(p01?.related.map((r) => r.id)).toEqual(['p02', 'p04', 'p06', 'p09']);

      const p10 = await ask({ type: 'ProductDetail', data: { productId: 'p10' } });
      expect(p10).toMatchObject({ active: false, stock: 2, avgRating: 5 });
      const p56 = await ask({ type: 'ProductDetail', data: { productId: 'p56' } });
      expect(p56?.avgRating).toBe(2.67);
      expect(p56?.related.map((r) => r.id)).toEqual(['p55', 'p54', 'p53', 'p57']); // 1.5, then no reviews by name
      expect(await ask({ type: 'ProductDetail', data: { productId: 'nope' } })).toBeNull();

      const day2 = await ask({ type: 'AdminDashboard', data: { now: `${DAY2}T20:00:00.000Z` } });
      // o5 (2 × 1100 + 800) and o6 (825 + 850); o7 was cancelled, o4 belongs to day 1.
      expect(day2.ordersToday).toBe(2);
      expect(day2.revenueTodayCents).toBe(4675);
      const day1 = await ask({ type: 'AdminDashboard', data: { now: `${DAY1}T12:00:00.000Z` } });
      expect(day1.ordersToday).toBe(4); // o1, o2, o3, o8 (o4 cancelled on day 2)
      expect(day1.revenueTodayCents).toBe(2500 + 5750 + 3275 + 2050);
      expect(day2.topSellers).toStrictEqual([
        { id: 'p15', name: 'Yunnan Oolong', unitsSold: 5 },
        { id: 'p01', name: 'Assam Black', unitsSold: 4 },
        { id: 'p02', name: 'Assam Green', unitsSold: 4 },
        { id: 'p05', name: 'Darjeeling Black', unitsSold: 3 },
        { id: 'p10', name: 'Ceylon Green', unitsSold: 2 },
        { id: 'p03', name: 'Assam Oolong', unitsSold: 1 },
      ]);
      expect(LOW_STOCK_THRESHOLD).toBe(10);
      expect(day2.lowStock).toStrictEqual([
        { id: 'p58', name: 'Bamboo Whisk', stock: 0 },
        { id: 'p07', name: 'Darjeeling Oolong', stock: 0 },
        { id: 'p03', name: 'Assam Oolong', stock: 2 },
        { id: 'p40', name: 'Taiwan White', stock: 6 },
        { id: 'p15', name: 'Yunnan Oolong', stock: 7 },
        { id: 'p22', name: 'Kenya Green', stock: 10 },
      ]);
      expect(day2.recentOrders.map((o) => [o.orderId, o.status])).toEqual([
        ['o7', 'cancelled'],
        ['o6', 'placed'],
        ['o5', 'placed'],
        ['o8', 'placed'],
        ['o4', 'cancelled'],
        ['o3', 'placed'],
        ['o2', 'placed'],
        ['o1', 'placed'],
      ]);

      expect(await ask({ type: 'OrderById', data: { orderId: 'o5' } })).toStrictEqual({
        orderId: 'o5',
        customerId: 'c4',
        status: 'placed',
        items: [
          { productId: 'p05', name: 'Darjeeling Black', quantity: 2, unitPriceCents: 1100 },
          { productId: 'p01', name: 'Assam Black', quantity: 1, unitPriceCents: 800 },
        ],
        totalCents: 3000,
        createdAt: `${DAY2}T09:00:10.000Z`,
      });
      const c1 = await ask({ type: 'CustomerOrders', data: { customerId: 'c1' } });
      expect(c1.items.map((o) => o.orderId)).toEqual(['o4', 'o1']);

      const search = await ask({ type: 'SearchProducts', data: { q: 'tea', page: 1 } });
      // The 50 active teas, p20 (moved to Gifts, "tea" in its description), Teapot, Chai ×2, Sampler.
      expect(search.total).toBe(55);
      const kitchen = await ask({ type: 'SearchProducts', data: { q: 'kitchenw', page: 1 } });
      // Matched on the category name only; shorter documents first (5 words, then 7), then id.
      expect(kitchen.items.map((i) => i.id)).toEqual(['p58', 'p61', 'p59', 'p60']);
      const chestnut = await ask({ type: 'SearchProducts', data: { q: 'chestnut', page: 1 } });
      expect(chestnut.items.map((i) => i.name)).toEqual(['Zhejiang Longjing']);
      expect(
        (await ask({ type: 'SearchProducts', data: { q: 'fujian green', page: 1 } })).total,
      ).toBe(0);
      expect(
        (await ask({ type: 'SearchProducts', data: { q: 'ceylon green', page: 1 } })).total,
      ).toBe(0);
      expect(await ask({ type: 'SearchProducts', data: { q: '"*', page: 1 } })).toStrictEqual({
        items: [],
        page: 1,
        pageSize: 24,
        total: 0,
      });

      const recent = await ask({ type: 'RecentlyUpdated', data: {} });
      expect(recent.items).toHaveLength(20);
      expect(recent.items.slice(0, 4).map((i) => i.id)).toEqual(['p31', 'p30', 'p20', 'p10']);
      expect(recent.items[3]?.updatedAt).toBe(`${DAY2}T09:01:00.000Z`);
    });

    it('after live changes, on every query, with the changes visible', async () => {
      await write(phase2);
      await caughtUp(current.live);
      await expectModesAgree();

      const tea3 = await ask({ type: 'CatalogPage', data: { categoryId: 'tea', page: 3 } });
      expect(tea3.total).toBe(51);
      expect(tea3.items).toHaveLength(3);
      const p15 = await ask({ type: 'ProductDetail', data: { productId: 'p15' } });
      expect(p15).toMatchObject({ stock: 5, stockAvailable: true }); // 0 after o9, then o2's 5 back
      const day1 = await ask({ type: 'AdminDashboard', data: { now: `${DAY1}T12:00:00.000Z` } });
      expect([day1.ordersToday, day1.revenueTodayCents]).toEqual([3, 2500 + 3275 + 2050]);
      const day2 = await ask({ type: 'AdminDashboard', data: { now: `${DAY2}T16:00:00.000Z` } });
      expect([day2.ordersToday, day2.revenueTodayCents]).toEqual([3, 4675 + 7 * teaPrice(15)]);
      expect(day2.topSellers[0]).toStrictEqual({ id: 'p15', name: 'Yunnan Oolong', unitsSold: 7 });
      expect(day2.lowStock.map((i) => i.id)).toEqual(['p65', 'p58', 'p07', 'p03', 'p15', 'p22']);
      const p01 = await ask({ type: 'ProductDetail', data: { productId: 'p01' } });
      expect(p01?.recentReviews[0]?.id).toBe('r01-8');
      expect(p01?.ratingHistogram['5']).toBe(3);
      expect(p01?.avgRating).toBe(3.63); // 29 / 8 = 3.625
      const nutty = await ask({ type: 'SearchProducts', data: { q: 'gift nutty', page: 1 } });
      expect(nutty.items.map((i) => [i.id, i.categoryName])).toEqual([['p54', 'Gifts']]);
      expect((await ask({ type: 'SearchProducts', data: { q: 'espresso', page: 1 } })).total).toBe(
        0,
      );
    });
  },
);

/** Every rm_ table's rows (in a stable order) and the search index's documents. */
function snapshot(db: Database.Database) {
  const tables = db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rm\\_%' ESCAPE '\\' ORDER BY name",
    )
    .pluck()
    .all() as string[];
  const rows: Record<string, unknown[]> = {};
  for (const t of tables) {
    const columns = (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).length;
    const order = Array.from({ length: columns }, (_, i) => i + 1).join(', ');
    rows[t] = db.prepare(`SELECT * FROM ${t} ORDER BY ${order}`).all();
  }
  rows['search (full-text)'] = db
    .prepare('SELECT id, title, body, extra FROM search ORDER BY id')
    .all();
  return rows;
}

describe('rebuild', () => {
  it('replaying the log into a fresh read DB gives the live read model, also after a reset', async () => {
    const expected = snapshot(read.db);
    expect(Object.keys(expected)).toEqual([
      'rm_carts',
      'rm_catalog_categories',
      'rm_catalog_page_marks',
      'rm_catalog_products',
      'rm_catalog_recent_reviews',
      'rm_catalog_stock',
      'rm_order_pairs',
      'rm_orders',
      'rm_orders_daily',
      'rm_search_categories',
      'rm_search_products',
      'search (full-text)',
    ]);
    expect(expected['rm_catalog_products']).toHaveLength(65);
    expect(expected['search (full-text)']).toHaveLength(63); // the active products
    expect(expected['rm_order_pairs']?.length).toBeGreaterThan(0); // orders of several products

    const fresh = new SqliteReadStore({ path: join(dir, 'rebuilt.db') });
    const target = projectionDbOf(fresh);
    const rebuild = new Projector({ log: store, store: target, projections: projections() });
    await rebuild.start();
    await caughtUp(rebuild);
    await rebuild.stop();
    expect(snapshot(fresh.db)).toStrictEqual(expected);

    // Reset every projection (as a version bump would), then replay from position 0.
    await target.transact(async (tx) => {
      for (const p of projections()) {
        await p.reset?.(tx.db);
        await tx.saveCheckpoint({
          name: p.name,
          version: p.version,
          position: 0n,
          status: 'running',
        });
      }
    });
    const emptied = snapshot(fresh.db);
    for (const [table, rows] of Object.entries(emptied))
      expect({ table, rows }).toEqual({ table, rows: [] });
    const again = new Projector({ log: store, store: target, projections: projections() });
    await again.start();
    await caughtUp(again);
    await again.stop();
    expect(snapshot(fresh.db)).toStrictEqual(expected);
    await fresh.close();
  });

  it('refuses a dashboard asked without a valid time, in both modes', async () => {
    for (const bus of [l1, l2]) {
      await expect(
        bus.ask({ type: 'AdminDashboard', data: { now: 'yesterday' } }),
      ).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
    }
  });

  it('level-2 handlers name the projections they read; level-1 handlers none', () => {
    const l2Handlers = shopQueryHandlers('read-model');
    const l1Handlers = shopQueryHandlers('write-db');
    expect(l2Handlers.AdminDashboard.projections).toEqual(['catalog', 'orders', 'carts']);
    expect(l2Handlers.SearchProducts.projections).toContain('search');
    for (const h of Object.values(l1Handlers)) expect(h.projections).toEqual([]);
    expect(shopProjections().map((p) => [p.name, p.version])).toEqual([
      ['catalog', 4],
      ['search', 1],
      ['orders', 2],
      ['carts', 1],
    ]);
  });
});
