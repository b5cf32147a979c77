import { coreError } from '../../core/errors.js';
import type { Sql } from '../../core/sql.js';
import { shopError } from '../errors.js';
import type { StockReleased, StockReserved } from '../events.js';
import { placeholders } from '../read-db.js';

/** One product and how many units of it an order wants. */
export interface StockLine {
  readonly productId: string;
  readonly quantity: number;
}

/** A line that could not be served: what was asked and what could be taken. */
export interface ShortLine {
  readonly productId: string;
  readonly requested: number;
  readonly available: number;
}

interface Stock {
  warehouse: string;
  quantity: number | string;
}

/**
 * Takes `quantity` units of one product from its warehouses, most stock first (then by warehouse
 * name). Each take is a conditional decrement (`quantity >= ?`) checked through `changes`, so no
 * interleaving of writers can drive a warehouse below zero; a take that loses a race re-reads.
 */
async function take(
  sql: Sql,
  productId: string,
  quantity: number,
  stock: readonly Stock[],
): Promise<{ taken: { warehouse: string; quantity: number }[]; remaining: number }> {
  const taken: { warehouse: string; quantity: number }[] = [];
  let remaining = quantity;
  // The first pass takes from the rows read with the order's other lines; after a lost race, a
  // pass reads this product's rows again.
  let read: readonly Stock[] | undefined = stock;
  while (remaining > 0) {
    const rows =
      read ??
      (await sql.all<Stock>(
        `SELECT warehouse, quantity FROM inventory
          WHERE product_id = ? AND quantity > 0 ORDER BY quantity DESC, warehouse`,
        [productId],
      ));
    read = undefined;
    let progressed = false;
    for (const row of rows) {
      if (remaining === 0) break;
      const units = Math.min(remaining, Number(row.quantity));
      const { changes } = await sql.run(
        `UPDATE inventory SET quantity = quantity - ?
          WHERE product_id = ? AND warehouse = ? AND quantity >= ?`,
        [units, productId, row.warehouse, units],
      );
      if (changes === 0) continue;
      progressed = true;
      remaining -= units;
      const same = taken.find((t) => t.warehouse === row.warehouse);
      if (same) same.quantity += units;
      else taken.push({ warehouse: row.warehouse, quantity: units });
    }
    if (!progressed) break;
  }
  return { taken, remaining };
}

/**
 * Reserves stock for an order inside the caller's transaction: decrements `inventory` and
 * writes `order_reservations` (so the `orders` row must exist already). Lines must name each
 * product once. Products are taken in id order, so concurrent orders lock rows in one order
 * (no deadlock on PostgreSQL). If any line is short it throws `OUT_OF_STOCK` naming every short
 * line (`details.lines`, in the given order); the caller's transaction then rolls back whatever
 * was taken. Returns one `StockReserved` per (product, warehouse) taken, to record on the order's
 * stream.
 * @example const reserved = await reserveStock(tx.db, orderId, [{ productId, quantity: 2 }], at);
 */
export async function reserveStock(
  sql: Sql,
  orderId: string,
  lines: readonly StockLine[],
  at: string,
): Promise<StockReserved[]> {
  const sorted = [...lines].sort((a, b) =>
    a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0,
  );
  if (new Set(sorted.map((l) => l.productId)).size !== sorted.length) {
    throw coreError('VALIDATION_FAILED', 'Each product may appear on one line only.');
  }
  for (const l of sorted) {
    if (!Number.isSafeInteger(l.quantity) || l.quantity < 1) {
      throw coreError('VALIDATION_FAILED', 'A quantity must be a whole number of at least 1.', {
        productId: l.productId,
      });
    }
  }
  // Every line's stock in one statement (a round trip per statement on PostgreSQL).
  const rows = await sql.all<Stock & { product_id: string }>(
    `SELECT product_id, warehouse, quantity FROM inventory
      WHERE product_id IN (${placeholders(sorted.length)}) AND quantity > 0
      ORDER BY product_id, quantity DESC, warehouse`,
    sorted.map((l) => l.productId),
  );
  const stock = new Map<string, Stock[]>(sorted.map((l) => [l.productId, []]));
  for (const row of rows) stock.get(row.product_id)?.push(row);
  const events: StockReserved[] = [];
  const short = new Map<string, ShortLine>();
  for (const line of sorted) {
    const { taken, remaining } = await take(
      sql,
      line.productId,
      line.quantity,
      stock.get(line.productId)!,
    );
    if (remaining > 0) {
      short.set(line.productId, {
        productId: line.productId,
        requested: line.quantity,
        available: line.quantity - remaining,
      });
      continue;
    }
    for (const t of taken) {
      events.push({
        type: 'StockReserved',
        data: {
          v: 1,
          productId: line.productId,
          orderId,
          warehouse: t.warehouse,
          quantity: t.quantity,
          at,
        },
      });
    }
  }
  if (short.size > 0) {
    const named = lines.flatMap((l) => {
      const s = short.get(l.productId);
      return s ? [s] : [];
    });
    throw shopError('OUT_OF_STOCK', undefined, { lines: named });
  }
  if (events.length > 0) {
    await sql.run(
      `INSERT INTO order_reservations (order_id, product_id, warehouse, quantity)
       VALUES ${events.map(() => '(?, ?, ?, ?)').join(', ')}`,
      events.flatMap((e) => [orderId, e.data.productId, e.data.warehouse, e.data.quantity]),
    );
  }
  return events;
}

/**
 * Puts every unit reserved for an order back into the warehouse it came from and forgets the
 * reservation, inside the caller's transaction. Returns one `StockReleased` per reservation row
 * (none when nothing was reserved, so releasing twice releases nothing more).
 */
export async function releaseStock(
  sql: Sql,
  orderId: string,
  at: string,
): Promise<StockReleased[]> {
  const rows = await sql.all<{ product_id: string; warehouse: string; quantity: number | string }>(
    `SELECT product_id, warehouse, quantity FROM order_reservations
      WHERE order_id = ? ORDER BY product_id, warehouse`,
    [orderId],
  );
  const events: StockReleased[] = [];
  for (const row of rows) {
    const quantity = Number(row.quantity);
    await sql.run(
      `INSERT INTO inventory (product_id, warehouse, quantity) VALUES (?, ?, ?)
       ON CONFLICT (product_id, warehouse) DO UPDATE SET quantity = inventory.quantity + excluded.quantity`,
      [row.product_id, row.warehouse, quantity],
    );
    events.push({
      type: 'StockReleased',
      data: { v: 1, productId: row.product_id, orderId, warehouse: row.warehouse, quantity, at },
    });
  }
  await sql.run('DELETE FROM order_reservations WHERE order_id = ?', [orderId]);
  return events;
}
