import type { CommandContext } from '../../core/command-bus.js';
import { coreError } from '../../core/errors.js';
import type { Sql } from '../../core/sql.js';
import type { WriteTx } from '../../core/write-store.js';
import type { CreateReview, ShopCommandResults } from '../commands.js';
import { type ReviewCreated, streams } from '../events.js';
import { id, invalid, timeOf } from '../validate.js';

const TEXT_MAX = 5000;

/**
 * A customer (the command's actor) reviews a product. `ReviewCreated` goes on the product's
 * stream, with the author's name so that read models need not join customers.
 */
export async function createReview(
  command: CreateReview,
  tx: WriteTx<Sql>,
  context: CommandContext,
): Promise<ShopCommandResults['CreateReview']> {
  const customerId = context.metadata.actor;
  const customer =
    customerId === undefined
      ? undefined
      : await tx.db.get<{ name: string }>('SELECT name FROM customers WHERE id = ?', [customerId]);
  if (customerId === undefined || !customer) {
    throw coreError('UNAUTHORIZED', 'Only a registered customer can review.');
  }
  const reviewId = id(command.data.reviewId, 'reviewId');
  const productId = id(command.data.productId, 'productId');
  const { rating, text } = command.data;
  if (typeof rating !== 'number' || !Number.isInteger(rating) || rating < 1 || rating > 5) {
    throw invalid('rating must be a whole number from 1 to 5.', 'rating');
  }
  if (typeof text !== 'string' || text.length > TEXT_MAX) {
    throw invalid(`text must be a string of at most ${TEXT_MAX} characters.`, 'text');
  }
  if (!(await tx.db.get('SELECT 1 AS found FROM products WHERE id = ?', [productId]))) {
    throw coreError('NOT_FOUND', 'No such product.', { productId });
  }
  if (await tx.db.get('SELECT 1 AS found FROM reviews WHERE id = ?', [reviewId])) {
    throw invalid('A review with this id already exists.', 'reviewId');
  }
  const { ms, at } = timeOf(context);
  await tx.db.run(
    `INSERT INTO reviews (id, product_id, customer_id, rating, text, created_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
    [reviewId, productId, customerId, rating, text, ms],
  );
  const event: ReviewCreated = {
    type: 'ReviewCreated',
    data: {
      v: 1,
      reviewId,
      productId,
      customerId,
      authorName: customer.name,
      rating,
      text,
      at,
    },
  };
  await tx.record(streams.product(productId), [event]);
  return { id: reviewId };
}
