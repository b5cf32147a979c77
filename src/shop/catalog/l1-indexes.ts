/**
 * Indexes the level-1 (write-DB) queries need beyond those of `shopMigrations`, in the SQL that
 * SQLite and PostgreSQL share. Apply them after `shopMigrations`.
 */
export const shopReadIndexes = [
  {
    name: 'shop_0002_l1_indexes',
    sql: `
      -- The whole catalog's pages: active products by name (products_by_category starts with category_id).
      CREATE INDEX IF NOT EXISTS products_active_by_name ON products (active, name, id);
      -- Rating figures (sum, count, histogram) per product without reading the review rows.
      CREATE INDEX IF NOT EXISTS reviews_by_product_rating ON reviews (product_id, rating);
      -- Today's orders and revenue without reading the order rows.
      CREATE INDEX IF NOT EXISTS orders_by_time_status ON orders (created_at, status, total_cents);`,
  },
] as const;
