// The carts' reads in both modes on each stack (SQLite files, PostgreSQL databases): the `carts` projection (level 2, read DB)
// and the write DB's `carts` tables kept by the cart handlers (level 1) give the same answers
// for a customer's open carts and the dashboard's abandoned carts; a rebuild gives the same rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mapReadStore,
  Projector,
  queryBus,
  type ReadStore,
  type Sql,
} from '../../src/core/index.js';
import { cartsProjection } from '../../src/shop/carts/projection.js';
import type { ShopCommand } from '../../src/shop/commands.js';
import {
  type ShopQuery,
  shopProjections,
  shopQueryHandlers,
} from '../../src/shop/query-handlers.js';
import type { ProjectionDb } from '../../src/shop/read-db.js';
import { PostgresReadStore, pgSql, postgresFullText } from '../../src/stores/postgres/index.js';
import { createTestDatabase } from '../../src/stores/postgres/test-db.js';
import { SqliteReadStore, sqliteFullText, sqliteSql } from '../../src/stores/sqlite/index.js';
import { openShop, type Shop, STACKS, type Stack, seedShop } from './write-harness.js';

const MIN = 60_000;
const T = Date.parse('2026-03-01T10:00:00.000Z');
const at = (minutes: number) => new Date(T + minutes * MIN);
const iso = (minutes: number) => at(minutes).toISOString();

const dir = mkdtempSync(join(tmpdir(), 'tworooms-carts-rm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh read DB on one stack: its store, a read-only handle, and a way to list rows. */
interface ReadSide {
  readonly store: ReadStore<ProjectionDb>;
  readonly reader: Sql;
  rows(query: string): Promise<unknown[]>;
  close(): Promise<void>;
}

async function openReadSide(stack: Stack, name: string): Promise<ReadSide> {
  if (stack === 'postgres') {
    const db = await createTestDatabase(`tw_carts_${name}`);
    const s = await PostgresReadStore.open({ connectionString: db.url });
    return {
      store: mapReadStore(s, (h) => ({ sql: pgSql(h), fullText: postgresFullText })),
      reader: pgSql(s.readOnly()),
      rows: (query) => pgSql(s.pool).all(query),
      async close() {
        await s.close();
        await db.drop();
      },
    };
  }
  const s = new SqliteReadStore({ path: join(dir, `${name}.db`) });
  const reader = s.readOnly();
  return {
    store: mapReadStore(s, (h) => ({ sql: sqliteSql(h), fullText: sqliteFullText })),
    reader: sqliteSql(reader),
    rows: (query) => sqliteSql(s.db).all(query),
    async close() {
      reader.close();
      await s.close();
    },
  };
}

describe.each(STACKS)('on %s', (stack) => {
  let shop: Shop;
  let read: ReadSide;
  let projector: Projector<ProjectionDb>;
  let ids: Awaited<ReturnType<typeof seedShop>>;

  function buses() {
    const fullText = stack === 'postgres' ? postgresFullText : sqliteFullText;
    return {
      l1: queryBus(shopQueryHandlers('write-db'), { db: { sql: shop.sql, fullText } }),
      l2: queryBus(shopQueryHandlers('read-model'), { db: { sql: read.reader, fullText } }),
    };
  }

  /** Runs a command as `actor`, `minutes` after T. */
  const runAt = (minutes: number, actor: string, command: ShopCommand, extra = {}) =>
    shop.run(command, { actor, now: at(minutes), ...extra });

  /** Asks both modes once the projector has caught up; they must agree. Returns the answer. */
  async function both<Q extends ShopQuery>(query: Q) {
    expect(await projector.catchUp(10_000)).toEqual({ reached: true });
    const { l1, l2 } = buses();
    const [a, b] = await Promise.all([l2.ask(query), l1.ask(query)]);
    expect({ query, answer: a.value }).toStrictEqual({ query, answer: b.value });
    return a.value;
  }

  const abandonedAt = async (minutes: number) =>
    (await both({ type: 'AdminDashboard', data: { now: iso(minutes) } })).abandonedCarts;

  beforeAll(async () => {
    shop = await openShop({ stack });
    ids = await seedShop(shop);
    for (const productId of [ids.green, ids.black]) {
      await shop.run({
        type: 'SetStockLevel',
        data: { productId, warehouse: 'main', quantity: 100 },
      });
    }
    read = await openReadSide(stack, 'read');
    projector = new Projector({
      log: shop.events,
      store: read.store,
      projections: shopProjections(),
      batchSize: 3, // a cart's events straddle batches
    });
    await projector.start();

    const { ann, bob, green, black } = ids;
    const addAt = (m: number, who: string, cartId: string, productId: string, quantity: number) =>
      runAt(m, who, { type: 'AddCartItem', data: { cartId, productId, quantity } });
    // Ann's k1: items at 0, changed again at 40.
    await runAt(0, ann, { type: 'CreateCart', data: { cartId: 'k1' } });
    await addAt(0, ann, 'k1', green, 2);
    await addAt(0, ann, 'k1', black, 1);
    await addAt(40, ann, 'k1', green, 1);
    // Ann's k2: created at 30, never filled.
    await runAt(30, ann, { type: 'CreateCart', data: { cartId: 'k2' } });
    // Bob's k3: items at 10, checked out at 20.
    await runAt(10, bob, { type: 'CreateCart', data: { cartId: 'k3' } });
    await addAt(10, bob, 'k3', green, 1);
    await runAt(
      20,
      bob,
      { type: 'CheckOutCart', data: { cartId: 'k3', orderId: 'o1' } },
      { idempotencyKey: 'bob-1' },
    );
    // Bob's k4: items at 50, all removed at 55 (open and empty).
    await runAt(50, bob, { type: 'CreateCart', data: { cartId: 'k4' } });
    await addAt(50, bob, 'k4', black, 2);
    await runAt(55, bob, { type: 'RemoveCartItem', data: { cartId: 'k4', productId: black } });
    // Bob's k5: items at 45, a line removed and re-added at 46 (it moves last).
    await runAt(45, bob, { type: 'CreateCart', data: { cartId: 'k5' } });
    await addAt(45, bob, 'k5', green, 1);
    await addAt(45, bob, 'k5', black, 1);
    await runAt(46, bob, { type: 'RemoveCartItem', data: { cartId: 'k5', productId: green } });
    await addAt(46, bob, 'k5', green, 3);
  });

  afterAll(async () => {
    await projector?.stop();
    await read?.close();
    await shop?.close();
  });

  describe('carts read models: level 2 and level 1 agree', () => {
    it("a customer's open carts, last changed first, with their lines in first-added order", async () => {
      const { ann, bob, green, black } = ids;
      expect(await both({ type: 'OpenCarts', data: { customerId: ann } })).toEqual({
        items: [
          {
            cartId: 'k1',
            items: [
              { productId: green, quantity: 3 },
              { productId: black, quantity: 1 },
            ],
            updatedAt: iso(40),
          },
          { cartId: 'k2', items: [], updatedAt: iso(30) },
        ],
      });
      expect(await both({ type: 'OpenCarts', data: { customerId: bob } })).toEqual({
        items: [
          { cartId: 'k4', items: [], updatedAt: iso(55) },
          {
            cartId: 'k5',
            items: [
              { productId: black, quantity: 1 },
              { productId: green, quantity: 3 },
            ],
            updatedAt: iso(46),
          },
        ],
      });
      expect(await both({ type: 'OpenCarts', data: { customerId: 'nobody' } })).toEqual({
        items: [],
      });
    });

    it('abandoned carts: with items, not checked out, unchanged for over an hour before `now`', async () => {
      // k1 (last change 40) and k5 (46) have items; k2 and k4 are empty; k3 is checked out.
      expect(await abandonedAt(60)).toBe(0);
      expect(await abandonedAt(100)).toBe(0); // k1 is exactly an hour old: not over
      expect(await abandonedAt(100.001)).toBe(1);
      expect(await abandonedAt(106)).toBe(1);
      expect(await abandonedAt(107)).toBe(2);
      expect(await abandonedAt(24 * 60)).toBe(2);
      // Touching a cart makes it fresh again; checking one out takes it out of the count.
      await runAt(200, ids.ann, {
        type: 'AddCartItem',
        data: { cartId: 'k1', productId: ids.green, quantity: 1 },
      });
      expect(await abandonedAt(200)).toBe(1);
      await runAt(
        201,
        ids.bob,
        { type: 'CheckOutCart', data: { cartId: 'k5', orderId: 'o2' } },
        { idempotencyKey: 'bob-2' },
      );
      expect(await abandonedAt(24 * 60)).toBe(1);
      expect((await both({ type: 'OpenCarts', data: { customerId: ids.bob } })).items).toEqual([
        { cartId: 'k4', items: [], updatedAt: iso(55) },
      ]);
    });

    it('the dashboard waits for the carts projection too', () => {
      expect(shopQueryHandlers('read-model').AdminDashboard.projections).toContain('carts');
      expect(shopQueryHandlers('read-model').OpenCarts.projections).toEqual(['carts']);
      expect(shopQueryHandlers('write-db').OpenCarts.projections).toEqual([]);
    });

    it('a rebuild from the log gives the same rows', async () => {
      expect(await projector.catchUp(10_000)).toEqual({ reached: true });
      const query = 'SELECT * FROM rm_carts ORDER BY cart_id';
      const live = await read.rows(query);
      expect(live.map((r) => (r as { cart_id: string }).cart_id)).toEqual(['k1', 'k2', 'k4']);
      const fresh = await openReadSide(stack, 'rebuilt');
      const rebuild = new Projector({
        log: shop.events,
        store: fresh.store,
        projections: [cartsProjection],
      });
      await rebuild.start();
      expect(await rebuild.catchUp(10_000)).toEqual({ reached: true });
      await rebuild.stop();
      expect(await fresh.rows(query)).toEqual(live);
      await fresh.close();
    });
  });
});
