import type { RecordedEvent } from '../../core/messages.js';
import type { Projection } from '../../core/projection.js';
import type { Sql } from '../../core/sql.js';
import type { ProductDetailsChanged, ShopEvent } from '../events.js';
import { epochMs, type ProjectionDb } from '../read-db.js';

/** How many reviews the read model keeps per product (the detail page shows the 5 newest). */
export const RECENT_REVIEWS = 5;

const TABLES = [
  'rm_catalog_categories',
  'rm_catalog_products',
  'rm_catalog_stock',
  'rm_catalog_reviews',
];

const SETUP = `
  CREATE TABLE IF NOT EXISTS rm_catalog_categories (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    product_count BIGINT NOT NULL DEFAULT 0 -- active products
  );
  CREATE INDEX IF NOT EXISTS rm_catalog_categories_by_name ON rm_catalog_categories (name, id);

  -- One flat document per product: the listing fields, what the detail page adds, and the
  -- figures the dashboard ranks by.
  CREATE TABLE IF NOT EXISTS rm_catalog_products (
    id            TEXT PRIMARY KEY,
    sku           TEXT NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    category_id   TEXT NOT NULL,
    category_name TEXT NOT NULL,
    price_cents   BIGINT NOT NULL,
    thumbnail_url TEXT,
    active        SMALLINT NOT NULL,
    stock         BIGINT NOT NULL DEFAULT 0, -- units over all warehouses
    rating_sum    BIGINT NOT NULL DEFAULT 0,
    rating_count  BIGINT NOT NULL DEFAULT 0,
    rating_mean   DOUBLE PRECISION NOT NULL DEFAULT 0, -- "best rated" sort key; 0 without reviews
    rating_1      BIGINT NOT NULL DEFAULT 0,
    rating_2      BIGINT NOT NULL DEFAULT 0,
    rating_3      BIGINT NOT NULL DEFAULT 0,
    rating_4      BIGINT NOT NULL DEFAULT 0,
    rating_5      BIGINT NOT NULL DEFAULT 0,
    units_sold    BIGINT NOT NULL DEFAULT 0, -- in orders that are not cancelled
    updated_at    BIGINT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS rm_catalog_products_by_category
    ON rm_catalog_products (category_id, active, name, id);
  CREATE INDEX IF NOT EXISTS rm_catalog_products_by_name ON rm_catalog_products (active, name, id);
  CREATE INDEX IF NOT EXISTS rm_catalog_products_by_rating
    ON rm_catalog_products (category_id, active, rating_mean DESC, name, id);
  CREATE INDEX IF NOT EXISTS rm_catalog_products_by_stock ON rm_catalog_products (active, stock, name, id);
  CREATE INDEX IF NOT EXISTS rm_catalog_products_by_sales
    ON rm_catalog_products (units_sold DESC, name, id);
  CREATE INDEX IF NOT EXISTS rm_catalog_products_by_update ON rm_catalog_products (updated_at, id);

  CREATE TABLE IF NOT EXISTS rm_catalog_stock (
    product_id TEXT NOT NULL,
    warehouse  TEXT NOT NULL,
    units      BIGINT NOT NULL,
    PRIMARY KEY (product_id, warehouse)
  );

  CREATE TABLE IF NOT EXISTS rm_catalog_reviews (
    id          TEXT PRIMARY KEY,
    product_id  TEXT NOT NULL,
    rating      SMALLINT NOT NULL,
    text        TEXT NOT NULL,
    author_name TEXT NOT NULL,
    created_at  BIGINT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS rm_catalog_reviews_by_product
    ON rm_catalog_reviews (product_id, created_at, id);`;

/** What a batch leaves to recompute once at its end, whatever the number of events. */
interface Dirty {
  readonly categories: Set<string>;
  readonly stock: Set<string>;
  readonly reviews: Set<string>;
}

async function categoryOf(sql: Sql, productId: string): Promise<string | undefined> {
  const row = await sql.get<{ category_id: string }>(
    'SELECT category_id FROM rm_catalog_products WHERE id = ?',
    [productId],
  );
  return row?.category_id;
}

async function changeDetails(sql: Sql, data: ProductDetailsChanged['data'], dirty: Dirty) {
  const sets = ['updated_at = ?'];
  const params: unknown[] = [epochMs(data.at)];
  const set = (column: string, value: unknown) => {
    sets.push(`${column} = ?`);
    params.push(value);
  };
  if (data.name !== undefined) set('name', data.name);
  if (data.description !== undefined) set('description', data.description);
  if (data.thumbnailUrl !== undefined) set('thumbnail_url', data.thumbnailUrl);
  if (data.categoryId !== undefined) {
    const previous = await categoryOf(sql, data.productId);
    if (previous !== undefined) dirty.categories.add(previous);
    dirty.categories.add(data.categoryId);
    sets.push(
      'category_id = ?',
      "category_name = COALESCE((SELECT name FROM rm_catalog_categories WHERE id = ?), '')",
    );
    params.push(data.categoryId, data.categoryId);
  }
  await sql.run(`UPDATE rm_catalog_products SET ${sets.join(', ')} WHERE id = ?`, [
    ...params,
    data.productId,
  ]);
}

async function setActive(sql: Sql, productId: string, active: 0 | 1, at: string, dirty: Dirty) {
  const category = await categoryOf(sql, productId);
  if (category !== undefined) dirty.categories.add(category);
  await sql.run('UPDATE rm_catalog_products SET active = ?, updated_at = ? WHERE id = ?', [
    active,
    epochMs(at),
    productId,
  ]);
}

/** Adds `delta` units to one warehouse's stock of a product. */
const addStock = (sql: Sql, productId: string, warehouse: string, delta: number) =>
  sql.run(
    `INSERT INTO rm_catalog_stock (product_id, warehouse, units) VALUES (?, ?, ?)
     ON CONFLICT (product_id, warehouse) DO UPDATE SET units = rm_catalog_stock.units + excluded.units`,
    [productId, warehouse, delta],
  );

async function addSales(
  sql: Sql,
  items: readonly { productId: string; quantity: number }[],
  sign: 1 | -1,
) {
  for (const line of items) {
    await sql.run('UPDATE rm_catalog_products SET units_sold = units_sold + ? WHERE id = ?', [
      sign * line.quantity,
      line.productId,
    ]);
  }
}

function ratingColumn(rating: number): string {
  if (!Number.isInteger(rating) || rating < 1 || rating > 5) {
    throw new Error(`A rating must be 1 to 5, got ${rating}`);
  }
  return `rating_${rating}`;
}

async function applyOne(sql: Sql, e: RecordedEvent<ShopEvent>, dirty: Dirty): Promise<void> {
  switch (e.type) {
    case 'CategoryCreated':
      await sql.run(
        `INSERT INTO rm_catalog_categories (id, name, product_count) VALUES (?, ?, 0)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name`,
        [e.data.categoryId, e.data.name],
      );
      return;
    case 'ProductAdded': {
      const d = e.data;
      await sql.run(
        `INSERT INTO rm_catalog_products (id, sku, name, description, category_id, category_name,
           price_cents, thumbnail_url, active, updated_at)
         VALUES (?, ?, ?, ?, ?, COALESCE((SELECT name FROM rm_catalog_categories WHERE id = ?), ''),
           ?, ?, 1, ?)`,
        [
          d.productId,
          d.sku,
          d.name,
          d.description,
          d.categoryId,
          d.categoryId,
          d.priceCents,
          d.thumbnailUrl,
          epochMs(d.at),
        ],
      );
      dirty.categories.add(d.categoryId);
      return;
    }
    case 'ProductPriceUpdated':
      await sql.run('UPDATE rm_catalog_products SET price_cents = ?, updated_at = ? WHERE id = ?', [
        e.data.priceCents,
        epochMs(e.data.at),
        e.data.productId,
      ]);
      return;
    case 'ProductDetailsChanged':
      return changeDetails(sql, e.data, dirty);
    case 'ProductActivated':
      return setActive(sql, e.data.productId, 1, e.data.at, dirty);
    case 'ProductDeactivated':
      return setActive(sql, e.data.productId, 0, e.data.at, dirty);
    case 'StockLevelSet':
      await sql.run(
        `INSERT INTO rm_catalog_stock (product_id, warehouse, units) VALUES (?, ?, ?)
         ON CONFLICT (product_id, warehouse) DO UPDATE SET units = excluded.units`,
        [e.data.productId, e.data.warehouse, e.data.quantity],
      );
      // An admin's stock count is a change to the product (it shows in "recently updated").
      await sql.run('UPDATE rm_catalog_products SET updated_at = ? WHERE id = ?', [
        epochMs(e.data.at),
        e.data.productId,
      ]);
      dirty.stock.add(e.data.productId);
      return;
    case 'StockReserved':
      await addStock(sql, e.data.productId, e.data.warehouse, -e.data.quantity);
      dirty.stock.add(e.data.productId);
      return;
    case 'StockReleased':
      await addStock(sql, e.data.productId, e.data.warehouse, e.data.quantity);
      dirty.stock.add(e.data.productId);
      return;
    case 'ReviewCreated': {
      const d = e.data;
      const column = ratingColumn(d.rating);
      await sql.run(
        `INSERT INTO rm_catalog_reviews (id, product_id, rating, text, author_name, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
        [d.reviewId, d.productId, d.rating, d.text, d.authorName, epochMs(d.at)],
      );
      await sql.run(
        `UPDATE rm_catalog_products SET rating_sum = rating_sum + ?, rating_count = rating_count + 1,
           rating_mean = CAST(rating_sum + ? AS DOUBLE PRECISION) / (rating_count + 1),
           ${column} = ${column} + 1
         WHERE id = ?`,
        [d.rating, d.rating, d.productId],
      );
      dirty.reviews.add(d.productId);
      return;
    }
    case 'OrderPlaced':
      return addSales(sql, e.data.items, 1);
    case 'OrderCancelled':
      return addSales(sql, e.data.items, -1);
    default:
      return;
  }
}

/** The once-per-batch recomputations: product stock, kept reviews, category counts. */
async function flush(sql: Sql, dirty: Dirty): Promise<void> {
  for (const id of dirty.stock) {
    await sql.run(
      `UPDATE rm_catalog_products
         SET stock = COALESCE((SELECT SUM(units) FROM rm_catalog_stock WHERE product_id = ?), 0)
       WHERE id = ?`,
      [id, id],
    );
  }
  for (const id of dirty.reviews) {
    await sql.run(
      `DELETE FROM rm_catalog_reviews WHERE product_id = ? AND id NOT IN (
         SELECT id FROM rm_catalog_reviews WHERE product_id = ?
         ORDER BY created_at DESC, id DESC LIMIT ${RECENT_REVIEWS})`,
      [id, id],
    );
  }
  for (const id of dirty.categories) {
    await sql.run(
      `UPDATE rm_catalog_categories SET product_count =
         (SELECT COUNT(*) FROM rm_catalog_products WHERE category_id = ? AND active = 1)
       WHERE id = ?`,
      [id, id],
    );
  }
}

/**
 * The catalog read model: categories with their active product counts, one flat document per
 * product (listing fields, detail fields, stock, rating figures and histogram, units sold), the
 * newest reviews per product and stock per warehouse.
 */
export const catalogProjection: Projection<ShopEvent, ProjectionDb> = {
  name: 'catalog',
  version: 1,
  handles: [
    'CategoryCreated',
    'ProductAdded',
    'ProductPriceUpdated',
    'ProductDetailsChanged',
    'ProductActivated',
    'ProductDeactivated',
    'StockLevelSet',
    'StockReserved',
    'StockReleased',
    'ReviewCreated',
    'OrderPlaced',
    'OrderCancelled',
  ],
  setup: ({ sql }) => sql.exec(SETUP),
  async reset({ sql }) {
    for (const t of TABLES) await sql.run(`DELETE FROM ${t}`);
  },
  async apply(events, { sql }) {
    const dirty: Dirty = { categories: new Set(), stock: new Set(), reviews: new Set() };
    for (const e of events) await applyOne(sql, e, dirty);
    await flush(sql, dirty);
  },
};
