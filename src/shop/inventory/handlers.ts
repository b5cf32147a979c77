import type { CommandContext } from '../../core/command-bus.js';
import { coreError } from '../../core/errors.js';
import type { Sql } from '../../core/sql.js';
import type { WriteTx } from '../../core/write-store.js';
import type { SetStockLevel, ShopCommandResults } from '../commands.js';
import { type StockLevelSet, streams } from '../events.js';
import { id, text, timeOf, wholeNumber } from '../validate.js';

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
  const productId = id(command.data.productId, 'productId');
  const warehouse = text(command.data.warehouse, 'warehouse', 1, WAREHOUSE_MAX);
  const quantity = wholeNumber(command.data.quantity, 'quantity', 0);
  const { ms, at } = timeOf(context);
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
    data: { v: 1, productId, warehouse, quantity, at },
  };
  await tx.record(streams.product(productId), [event]);
  return {};
}
