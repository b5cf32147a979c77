// The oversell check, from the write DB's own record: replays every stock event in log order per
// (product, warehouse) — a count sets the level, a reservation takes, a release gives back — and
// checks that no level ever went below zero and that each final level equals the inventory row.

/** A stock event as stored in the log. */
export interface StockEvent {
  readonly type: string;
  readonly data: { productId: string; warehouse: string; quantity: number };
}

export interface StockAudit {
  /** Units reserved beyond what was there (sum of the deepest negative level of every pair). */
  readonly oversoldUnits: number;
  /** Inventory rows below zero. */
  readonly negativeRows: number;
  /** Units where the inventory row differs from the replayed level (should be 0). */
  readonly mismatchedUnits: number;
  readonly reservedUnits: number;
  readonly pairs: number;
}

/** Folds `events` (in log order) and compares them with `inventory`. */
export function auditStock(
  events: Iterable<StockEvent>,
  inventory: Iterable<{ product_id: string; warehouse: string; quantity: number }>,
): StockAudit {
  const level = new Map<string, number>();
  const deepest = new Map<string, number>();
  let reservedUnits = 0;
  for (const e of events) {
    const key = `${e.data.productId}\u0000${e.data.warehouse}`;
    const now = level.get(key) ?? 0;
    const next =
      e.type === 'StockLevelSet'
        ? e.data.quantity
        : e.type === 'StockReserved'
          ? now - e.data.quantity
          : now + e.data.quantity;
    if (e.type === 'StockReserved') reservedUnits += e.data.quantity;
    level.set(key, next);
    if (next < (deepest.get(key) ?? 0)) deepest.set(key, next);
  }
  let negativeRows = 0;
  let mismatchedUnits = 0;
  for (const row of inventory) {
    const q = Number(row.quantity);
    if (q < 0) negativeRows++;
    const key = `${row.product_id}\u0000${row.warehouse}`;
    mismatchedUnits += Math.abs((level.get(key) ?? 0) - q);
    level.delete(key);
  }
  for (const left of level.values()) mismatchedUnits += Math.abs(left);
  let oversoldUnits = 0;
  for (const d of deepest.values()) oversoldUnits -= d;
  return { oversoldUnits, negativeRows, mismatchedUnits, reservedUnits, pairs: deepest.size };
}

export const STOCK_EVENT_TYPES = ['StockLevelSet', 'StockReserved', 'StockReleased'] as const;
