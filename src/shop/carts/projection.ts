import type { Projection } from '../../core/projection.js';
import type { Sql } from '../../core/sql.js';
import type { ShopEvent } from '../events.js';
import { epochMs, type ProjectionDb } from '../read-db.js';
import { type CartEvent, type CartLine, cartDecider } from './decider.js';

const SETUP = `
  -- Open carts, one document each (a cart leaves at checkout): its lines inline (JSON), in the
  -- order first added, and the time of its last change.
  CREATE TABLE IF NOT EXISTS rm_carts (
    cart_id     TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    items       TEXT NOT NULL,
    line_count  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS rm_carts_by_customer ON rm_carts (customer_id, updated_at, cart_id);
  CREATE INDEX IF NOT EXISTS rm_carts_by_time ON rm_carts (updated_at, line_count);`;

interface CartDoc {
  customer_id: string;
  items: string;
}

/** The cart's lines after `event`, by the decider's own `evolve` (one rule for merging). */
async function changeLines(
  sql: Sql,
  event: CartEvent & { type: 'CartItemAdded' | 'CartItemRemoved' },
) {
  const { cartId, at } = event.data;
  const doc = await sql.get<CartDoc>('SELECT customer_id, items FROM rm_carts WHERE cart_id = ?', [
    cartId,
  ]);
  if (!doc) return; // checked out (or never created): nothing open to change
  const before = {
    status: 'open' as const,
    cartId,
    customerId: doc.customer_id,
    lines: JSON.parse(doc.items) as CartLine[],
    orderId: null,
  };
  const after = cartDecider.evolve(before, event);
  const lines = after.status === 'none' ? [] : after.lines;
  await sql.run('UPDATE rm_carts SET items = ?, line_count = ?, updated_at = ? WHERE cart_id = ?', [
    JSON.stringify(lines),
    lines.length,
    epochMs(at),
    cartId,
  ]);
}

/** The open carts per customer, and what the dashboard counts as abandoned. */
export const cartsProjection: Projection<ShopEvent, ProjectionDb> = {
  name: 'carts',
  version: 1,
  tables: ['rm_carts'],
  handles: ['CartCreated', 'CartItemAdded', 'CartItemRemoved', 'CartCheckedOut'],
  setup: ({ sql }) => sql.exec(SETUP),
  async reset({ sql }) {
    await sql.run('DELETE FROM rm_carts');
  },
  async apply(events, { sql }) {
    for (const e of events) {
      switch (e.type) {
        case 'CartCreated':
          await sql.run(
            `INSERT INTO rm_carts (cart_id, customer_id, items, line_count, updated_at)
             VALUES (?, ?, '[]', 0, ?)`,
            [e.data.cartId, e.data.customerId, epochMs(e.data.at)],
          );
          break;
        case 'CartItemAdded':
        case 'CartItemRemoved':
          await changeLines(sql, e);
          break;
        case 'CartCheckedOut':
          await sql.run('DELETE FROM rm_carts WHERE cart_id = ?', [e.data.cartId]);
          break;
      }
    }
  },
};
