import { cartMigrations } from './carts/schema.js';

/**
 * The write DB's normalized tables, in the SQL that SQLite and PostgreSQL share: text ids,
 * BIGINT money (cents) and times (epoch ms), SMALLINT flags. Applied by the store's migrator.
 */
export const shopMigrations = [
  {
    name: 'shop_0001_tables',
    sql: `
      CREATE TABLE categories (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE products (
        id                      TEXT PRIMARY KEY,
        sku                     TEXT NOT NULL UNIQUE,
        name                    TEXT NOT NULL,
        description             TEXT NOT NULL,
        category_id             TEXT NOT NULL REFERENCES categories (id),
        price_cents             BIGINT NOT NULL CHECK (price_cents >= 0),
        max_allowed_price_cents BIGINT CHECK (max_allowed_price_cents >= 0), -- NULL: no limit
        thumbnail_url           TEXT,
        active                  SMALLINT NOT NULL DEFAULT 1,
        created_at              BIGINT NOT NULL,
        updated_at              BIGINT NOT NULL
      );
      CREATE INDEX products_by_category ON products (category_id, active, name, id);
      CREATE INDEX products_by_update ON products (updated_at);
      CREATE TABLE inventory (
        product_id TEXT NOT NULL REFERENCES products (id),
        warehouse  TEXT NOT NULL,
        quantity   BIGINT NOT NULL CHECK (quantity >= 0),
        PRIMARY KEY (product_id, warehouse)
      );
      CREATE TABLE customers (
        id         TEXT PRIMARY KEY,
        email      TEXT NOT NULL UNIQUE,
        name       TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE reviews (
        id          TEXT PRIMARY KEY,
        product_id  TEXT NOT NULL REFERENCES products (id),
        customer_id TEXT NOT NULL REFERENCES customers (id),
        rating      SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
        text        TEXT NOT NULL,
        created_at  BIGINT NOT NULL
      );
      CREATE INDEX reviews_by_product ON reviews (product_id, created_at);
      CREATE TABLE orders (
        id          TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customers (id),
        status      TEXT NOT NULL,
        total_cents BIGINT NOT NULL,
        created_at  BIGINT NOT NULL,
        updated_at  BIGINT NOT NULL
      );
      CREATE INDEX orders_by_customer ON orders (customer_id, created_at);
      CREATE INDEX orders_by_time ON orders (created_at);
      CREATE TABLE order_lines (
        order_id         TEXT NOT NULL REFERENCES orders (id),
        line_no          INTEGER NOT NULL,
        product_id       TEXT NOT NULL REFERENCES products (id),
        name             TEXT NOT NULL,
        quantity         BIGINT NOT NULL CHECK (quantity > 0),
        unit_price_cents BIGINT NOT NULL,
        PRIMARY KEY (order_id, line_no)
      );
      CREATE INDEX order_lines_by_product ON order_lines (product_id);
      CREATE TABLE order_reservations (
        order_id   TEXT NOT NULL REFERENCES orders (id),
        product_id TEXT NOT NULL,
        warehouse  TEXT NOT NULL,
        quantity   BIGINT NOT NULL,
        PRIMARY KEY (order_id, product_id, warehouse)
      );`,
  },
  ...cartMigrations,
] as const;
