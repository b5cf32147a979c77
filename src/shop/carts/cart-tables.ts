import type { Sql } from '../../core/sql.js';
import type { CartEvent } from './decider.js';

const ms = (at: string) => Date.parse(at);

const touch = (sql: Sql, cartId: string, at: string) =>
  sql.run(
    `UPDATE carts SET updated_at = ?,
       line_count = (SELECT COUNT(*) FROM cart_lines WHERE cart_id = ?) WHERE id = ?`,
    [ms(at), cartId, cartId],
  );

/**
 * Applies cart events to the write DB's `carts` and `cart_lines` tables, inside the transaction
 * that records them: the level-1 mirror of the cart streams. Every writer of a cart stream calls
 * it in its append transaction, so the rows never disagree with the stream.
 */
export async function applyToCartTables(sql: Sql, events: readonly CartEvent[]): Promise<void> {
  for (const e of events) {
    switch (e.type) {
      case 'CartCreated':
        await sql.run(
          `INSERT INTO carts (id, customer_id, status, order_id, line_count, created_at, updated_at)
           VALUES (?, ?, 'open', NULL, 0, ?, ?)`,
          [e.data.cartId, e.data.customerId, ms(e.data.at), ms(e.data.at)],
        );
        break;
      case 'CartItemAdded':
        await sql.run(
          `INSERT INTO cart_lines (cart_id, product_id, quantity, line_no)
           VALUES (?, ?, ?, (SELECT COALESCE(MAX(line_no), 0) + 1 FROM cart_lines WHERE cart_id = ?))
           ON CONFLICT (cart_id, product_id) DO UPDATE SET
             quantity = cart_lines.quantity + excluded.quantity`,
          [e.data.cartId, e.data.productId, e.data.quantity, e.data.cartId],
        );
        await touch(sql, e.data.cartId, e.data.at);
        break;
      case 'CartItemRemoved':
        await sql.run('DELETE FROM cart_lines WHERE cart_id = ? AND product_id = ?', [
          e.data.cartId,
          e.data.productId,
        ]);
        await touch(sql, e.data.cartId, e.data.at);
        break;
      case 'CartCheckedOut':
        await sql.run(
          `UPDATE carts SET status = 'checked_out', order_id = ?, updated_at = ? WHERE id = ?`,
          [e.data.orderId, ms(e.data.at), e.data.cartId],
        );
        break;
      default: {
        const never: never = e;
        return never;
      }
    }
  }
}
