/**
 * The carts' level-1 tables on the write DB. The cart's truth is its event stream (level 3);
 * these rows are kept in step with it in the same transaction as each append (see
 * `cart-tables.ts`), so that level-1 queries (the dashboard's abandoned carts, a customer's open
 * carts) can read carts with plain SQL, as they read every other table.
 */
export const cartMigrations = [
  {
    name: 'shop_0003_carts',
    sql: `
      CREATE TABLE carts (
        id          TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customers (id),
        status      TEXT NOT NULL, -- 'open' or 'checked_out'
        order_id    TEXT,          -- set at checkout
        line_count  INTEGER NOT NULL,
        created_at  BIGINT NOT NULL,
        updated_at  BIGINT NOT NULL -- the time of the cart's last event
      );
      CREATE INDEX carts_by_customer ON carts (customer_id, status, updated_at);
      -- Abandoned carts: open, with lines, untouched since some time.
      CREATE INDEX carts_by_status_time ON carts (status, updated_at, line_count);
      CREATE TABLE cart_lines (
        cart_id    TEXT NOT NULL REFERENCES carts (id),
        product_id TEXT NOT NULL REFERENCES products (id),
        quantity   BIGINT NOT NULL CHECK (quantity > 0),
        line_no    INTEGER NOT NULL, -- the order of first addition
        PRIMARY KEY (cart_id, product_id)
      );`,
  },
] as const;
