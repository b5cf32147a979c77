import type { Projection } from '../../core/projection.js';
import type { Sql } from '../../core/sql.js';
import type { OrderCancelled, OrderPlaced, ShopEvent } from '../events.js';
import { epochMs, num, type ProjectionDb, utcDay } from '../read-db.js';

const SETUP = `
  -- One row per order, its lines inline (JSON), as OrderView shows it.
  CREATE TABLE IF NOT EXISTS rm_orders (
    order_id    TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    total_cents BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    day         TEXT NOT NULL, -- the UTC day it was placed: where its figures are counted
    items       TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS rm_orders_by_customer ON rm_orders (customer_id, created_at, order_id);
  CREATE INDEX IF NOT EXISTS rm_orders_by_time ON rm_orders (created_at, order_id);
  -- Orders placed and not cancelled, per UTC day of placement.
  CREATE TABLE IF NOT EXISTS rm_orders_daily (
    day           TEXT PRIMARY KEY,
    order_count   BIGINT NOT NULL,
    revenue_cents BIGINT NOT NULL
  );
  -- For each product, how many placed (not cancelled) orders it shares with each other product:
  -- what the also-bought job ranks, kept as orders come instead of aggregated from every order.
  CREATE TABLE IF NOT EXISTS rm_order_pairs (
    product_id TEXT NOT NULL,
    other_id   TEXT NOT NULL,
    orders     BIGINT NOT NULL,
    PRIMARY KEY (product_id, other_id)
  );`;

/** Pairs per statement (3 parameters each: under SQLite's and PostgreSQL's limits). */
const PAIRS_PER_STATEMENT = 500;

/** Adds `delta` to the shared-order count of every ordered pair of this order's products. */
async function addPairs(
  sql: Sql,
  items: readonly { productId: string }[],
  delta: 1 | -1,
): Promise<void> {
  const products = [...new Set(items.map((l) => l.productId))];
  const pairs: (string | number)[][] = [];
  for (const a of products) for (const b of products) if (a !== b) pairs.push([a, b, delta]);
  for (let i = 0; i < pairs.length; i += PAIRS_PER_STATEMENT) {
    const chunk = pairs.slice(i, i + PAIRS_PER_STATEMENT);
    await sql.run(
      `INSERT INTO rm_order_pairs (product_id, other_id, orders)
       VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}
       ON CONFLICT (product_id, other_id) DO UPDATE SET orders = rm_order_pairs.orders + excluded.orders`,
      chunk.flat(),
    );
  }
}

const addToDay = (sql: Sql, day: string, orders: number, revenueCents: number) =>
  sql.run(
    `INSERT INTO rm_orders_daily (day, order_count, revenue_cents) VALUES (?, ?, ?)
     ON CONFLICT (day) DO UPDATE SET
       order_count = rm_orders_daily.order_count + excluded.order_count,
       revenue_cents = rm_orders_daily.revenue_cents + excluded.revenue_cents`,
    [day, orders, revenueCents],
  );

async function placed(sql: Sql, d: OrderPlaced['data']): Promise<void> {
  const { day } = utcDay(d.at);
  const items = d.items.map((l) => ({
    productId: l.productId,
    name: l.name,
    quantity: l.quantity,
    unitPriceCents: l.unitPriceCents,
  }));
  await sql.run(
    `INSERT INTO rm_orders (order_id, customer_id, status, total_cents, created_at, day, items)
     VALUES (?, ?, 'placed', ?, ?, ?, ?)`,
    [d.orderId, d.customerId, d.totalCents, epochMs(d.at), day, JSON.stringify(items)],
  );
  await addToDay(sql, day, 1, d.totalCents);
  await addPairs(sql, d.items, 1);
}

async function cancelled(sql: Sql, d: OrderCancelled['data']): Promise<void> {
  const order = await sql.get<{ status: string; day: string; total_cents: number | string }>(
    'SELECT status, day, total_cents FROM rm_orders WHERE order_id = ?',
    [d.orderId],
  );
  if (!order || order.status === 'cancelled') return;
  await sql.run("UPDATE rm_orders SET status = 'cancelled' WHERE order_id = ?", [d.orderId]);
  // The order leaves the figures of the day it was placed, not of the day it was cancelled.
  await addToDay(sql, order.day, -1, -num(order.total_cents));
  await addPairs(sql, d.items, -1);
}

/**
 * The orders read model: each order with its lines, per customer, per-day order figures, and the
 * products bought together. Version 2 added `rm_order_pairs`.
 */
export const ordersProjection: Projection<ShopEvent, ProjectionDb> = {
  name: 'orders',
  version: 2,
  tables: ['rm_orders', 'rm_orders_daily', 'rm_order_pairs'],
  handles: ['OrderPlaced', 'OrderCancelled'],
  setup: ({ sql }) => sql.exec(SETUP),
  async reset({ sql }) {
    await sql.run('DELETE FROM rm_orders');
    await sql.run('DELETE FROM rm_orders_daily');
    await sql.run('DELETE FROM rm_order_pairs');
  },
  async apply(events, { sql }) {
    for (const e of events) {
      if (e.type === 'OrderPlaced') await placed(sql, e.data);
      else if (e.type === 'OrderCancelled') await cancelled(sql, e.data);
    }
  },
};
