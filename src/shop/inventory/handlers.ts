import type { CommandContext } from '../../core/command-bus.js';
import { coreError } from '../../core/errors.js';
import type { Sql } from '../../core/sql.js';
import type { WriteTx } from '../../core/write-store.js';
import type { SetStockLevel, ShopCommandResults } from '../commands.js';
import { type StockLevelSet, streams } from '../events.js';

const WAREHOUSE_MAX = 100;

/**
 * Sets the units available for sale of one product in one warehouse (an admin's stock count).
 * Records `StockLevelSet` on the product's stream and marks the product as recently updated.
 */
export async function setStockLevel(
  command: SetStockLevel,
  tx: WriteTx<Sql>,
  context: CommandContext,
): Promise<ShopCommandResults['SetStockLevel']> {
  const { productId, quantity } = command.data;
  const warehouse = typeof command.data.warehouse === 'string' ? command.data.warehouse.trim() : '';
  if (typeof productId !== 'string' || productId.length === 0) {
    throw coreError('VALIDATION_FAILED', 'productId must be a non-empty string.', {
      field: 'productId',
    });
  }
  if (warehouse.length === 0 || warehouse.length > WAREHOUSE_MAX) {
    throw coreError(
      'VALIDATION_FAILED',
      `warehouse must be a string of 1 to ${WAREHOUSE_MAX} characters.`,
      { field: 'warehouse' },
    );
  }
  if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity) || quantity < 0) {
    throw coreError('VALIDATION_FAILED', 'quantity must be a whole number, at least 0.', {
      field: 'quantity',
    });
  }
  const ms = context.metadata.now.getTime();
  const { changes } = await tx.db.run('UPDATE products SET updated_at = ? WHERE id = ?', [
    ms,
    productId,
  ]);
  if (changes === 0) throw coreError('NOT_FOUND', 'No such product.', { productId });
  await tx.db.run(
    `INSERT INTO inventory (product_id, warehouse, quantity) VALUES (?, ?, ?)
     ON CONFLICT (product_id, warehouse) DO UPDATE SET quantity = excluded.quantity`,
    [productId, warehouse, quantity],
  );
  const event: StockLevelSet = {
    type: 'StockLevelSet',
    data: { v: 1, productId, warehouse, quantity, at: context.metadata.now.toISOString() },
  };
  await tx.record(streams.product(productId), [event]);
  return {};
}
