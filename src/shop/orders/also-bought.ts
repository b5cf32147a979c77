import type { Event, RecordedEvent } from '../../core/messages.js';
import type { ReadStore } from '../../core/projection.js';
import type { Sql } from '../../core/sql.js';
import { writeDbListing } from '../catalog/queries.js';
import type { AlsoBought } from '../queries.js';
import {
  inOrder,
  type ListingRow,
  listingItem,
  type ProjectionDb,
  placeholders,
  type ShopQueryHandler,
} from '../read-db.js';

/** Products shown as "customers who bought this also bought". */
export const ALSO_BOUGHT = 4;
/** The background job that recomputes one product's list. */
export const ALSO_BOUGHT_JOB = 'also-bought';

/**
 * The active products most often in the same placed (not cancelled) orders as `productId`, most
 * orders first, ties by id: a self-join of order lines through `order_lines_by_product`.
 */
async function coPurchased(sql: Sql, productId: string): Promise<string[]> {
  const rows = await sql.all<{ id: string }>(
    `SELECT other.product_id AS id
       FROM order_lines mine
       JOIN orders o ON o.id = mine.order_id AND o.status = 'placed'
       JOIN order_lines other ON other.order_id = mine.order_id AND other.product_id <> mine.product_id
       JOIN products p ON p.id = other.product_id AND p.active = 1
      WHERE mine.product_id = ?
      GROUP BY other.product_id
      ORDER BY COUNT(DISTINCT other.order_id) DESC, other.product_id
      LIMIT ${ALSO_BOUGHT}`,
    [productId],
  );
  return rows.map((r) => r.id);
}

/** Level 1: computed on the write DB at every request (always fresh, a join per request). */
export const alsoBoughtWriteDb: ShopQueryHandler<AlsoBought> = {
  projections: [],
  async handle(q, { sql }) {
    const known = await sql.get('SELECT 1 AS one FROM products WHERE id = ?', [q.data.productId]);
    if (!known) return null;
    return { items: await writeDbListing(sql, await coPurchased(sql, q.data.productId)) };
  },
};

const SETUP = `
  -- Written by the also-bought job, not by a projection: rebuilt by re-running the job.
  CREATE TABLE IF NOT EXISTS rm_also_bought (
    product_id  TEXT PRIMARY KEY,
    related     TEXT NOT NULL, -- JSON array of product ids, best first
    computed_at BIGINT NOT NULL
  );`;

/** Level 2: the list the job stored, as listing documents of the catalog read model. */
export const alsoBoughtReadModel: ShopQueryHandler<AlsoBought> = {
  projections: ['catalog'],
  async handle(q, { sql }) {
    const known = await sql.get('SELECT 1 AS one FROM rm_catalog_products WHERE id = ?', [
      q.data.productId,
    ]);
    if (!known) return null;
    const row = await sql.get<{ related: string }>(
      'SELECT related FROM rm_also_bought WHERE product_id = ?',
      [q.data.productId],
    );
    const ids = row ? (JSON.parse(row.related) as string[]) : [];
    if (ids.length === 0) return { items: [] };
    const rows = await sql.all<ListingRow>(
      `SELECT id, name, price_cents, stock, rating_sum, rating_count, category_name, thumbnail_url
         FROM rm_catalog_products WHERE active = 1 AND id IN (${placeholders(ids.length)})`,
      ids,
    );
    return { items: inOrder(ids, rows).map(listingItem) };
  },
};

/** The products whose list may change with these events (the lines of placed or cancelled orders). */
export function alsoBoughtTriggers(events: readonly RecordedEvent<Event>[]): Set<string> {
  const products = new Set<string>();
  for (const e of events) {
    if (e.type !== 'OrderPlaced' && e.type !== 'OrderCancelled') continue;
    for (const line of (e.data as { items: readonly { productId: string }[] }).items)
      products.add(line.productId);
  }
  return products;
}

/**
 * Level 2's ranking, from the orders read model: the active products sharing the most placed
 * orders with `productId` (`rm_order_pairs`, kept by the orders projection as orders come), most
 * orders first, ties by id — the same list as `coPurchased` on the write DB, at the cost of one
 * product's pairs instead of a join over every order that holds it.
 */
async function coPurchasedReadModel(sql: Sql, productId: string): Promise<string[]> {
  const rows = await sql.all<{ id: string }>(
    `SELECT pair.other_id AS id
       FROM rm_order_pairs pair
       JOIN rm_catalog_products p ON p.id = pair.other_id AND p.active = 1
      WHERE pair.product_id = ? AND pair.orders > 0
      ORDER BY pair.orders DESC, pair.other_id
      LIMIT ${ALSO_BOUGHT}`,
    [productId],
  );
  return rows.map((r) => r.id);
}

/**
 * The job: recompute one product's list from the read DB's order pairs and store it there.
 * Idempotent: it always writes what the read model holds now (the orders projection queues it
 * after committing the orders that change the pairs).
 */
export function alsoBoughtJob(deps: {
  readonly readStore: ReadStore<ProjectionDb>;
  readonly now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  return {
    setup: () => deps.readStore.transact(({ db }) => db.sql.exec(SETUP), { schema: true }),
    async run(productId: string): Promise<void> {
      await deps.readStore.transact(async ({ db }) => {
        const ids = await coPurchasedReadModel(db.sql, productId);
        await db.sql.run(
          `INSERT INTO rm_also_bought (product_id, related, computed_at) VALUES (?, ?, ?)
           ON CONFLICT (product_id) DO UPDATE SET related = excluded.related,
             computed_at = excluded.computed_at`,
          [productId, JSON.stringify(ids), now()],
        );
      });
    },
  };
}
