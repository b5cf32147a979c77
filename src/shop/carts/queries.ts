import type { Sql } from '../../core/sql.js';
import type { OpenCarts, OpenCartView } from '../queries.js';
import { iso, num, type ShopQueryHandler } from '../read-db.js';

/** A cart with items and no change for longer than this is abandoned (the dashboard counts them). */
export const ABANDONED_AFTER_MS = 60 * 60 * 1000;

type Bigint = number | string;

/** Level 2: carts with lines whose last change is over an hour before `nowMs` (`rm_carts` holds open carts only). */
export async function abandonedCartsReadModel(sql: Sql, nowMs: number): Promise<number> {
  const row = await sql.get<{ n: Bigint }>(
    'SELECT COUNT(*) AS n FROM rm_carts WHERE updated_at < ? AND line_count > 0',
    [nowMs - ABANDONED_AFTER_MS],
  );
  return num(row?.n);
}

/**
 * Level 1: the same count on the write DB. Carts are event-sourced, so the write DB holds them
 * as streams; the cart handlers keep a small normalized `carts` table in step, in the same
 * transaction as each append, and this reads it (covered by `carts_by_status_time`).
 */
export async function abandonedCartsWriteDb(sql: Sql, nowMs: number): Promise<number> {
  const row = await sql.get<{ n: Bigint }>(
    `SELECT COUNT(*) AS n FROM carts
      WHERE status = 'open' AND updated_at < ? AND line_count > 0`,
    [nowMs - ABANDONED_AFTER_MS],
  );
  return num(row?.n);
}

interface CartDoc {
  cart_id: string;
  items: string;
  updated_at: Bigint;
}

interface CartLineRow {
  id: string;
  updated_at: Bigint;
  product_id: string | null;
  quantity: Bigint | null;
}

/** A customer's open carts, last changed first: from the `carts` read model (level 2). */
export const openCartsReadModel: ShopQueryHandler<OpenCarts> = {
  projections: ['carts'],
  async handle(q, { sql }) {
    const rows = await sql.all<CartDoc>(
      `SELECT cart_id, items, updated_at FROM rm_carts WHERE customer_id = ?
        ORDER BY updated_at DESC, cart_id DESC`,
      [q.data.customerId],
    );
    return {
      items: rows.map((r) => ({
        cartId: r.cart_id,
        items: JSON.parse(r.items),
        updatedAt: iso(r.updated_at),
      })),
    };
  },
};

/** The same answer from the write DB's `carts` and `cart_lines` tables (level 1). */
export const openCartsWriteDb: ShopQueryHandler<OpenCarts> = {
  projections: [],
  async handle(q, { sql }) {
    const rows = await sql.all<CartLineRow>(
      `SELECT c.id, c.updated_at, l.product_id, l.quantity
         FROM carts c LEFT JOIN cart_lines l ON l.cart_id = c.id
        WHERE c.customer_id = ? AND c.status = 'open'
        ORDER BY c.updated_at DESC, c.id DESC, l.line_no`,
      [q.data.customerId],
    );
    const carts: OpenCartView[] = [];
    for (const r of rows) {
      let cart = carts.at(-1);
      if (cart?.cartId !== r.id) {
        cart = { cartId: r.id, items: [], updatedAt: iso(r.updated_at) };
        carts.push(cart);
      }
      if (r.product_id !== null) {
        cart.items.push({ productId: r.product_id, quantity: num(r.quantity) });
      }
    }
    return { items: carts };
  },
};
