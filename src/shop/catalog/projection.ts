import type { PositionedEvent } from '../../core/messages.js';
import type { Projection } from '../../core/projection.js';
import type { Sql } from '../../core/sql.js';
import type { ProductDetailsChanged, ShopEvent } from '../events.js';
import { epochMs, type ProjectionDb } from '../read-db.js';
import {
  ALL_PRODUCTS,
  derivePageMarks,
  enterListing,
  isMark,
  leaveListing,
  PAGE_MARK_EVERY,
  PAGE_MARKS_SETUP,
} from './page-marks.js';
import { keepNewest, type RecentReview } from './recent-reviews.js';

/** How many reviews the read model keeps per product (the detail page shows the 5 newest). */
export const RECENT_REVIEWS = 5;

const TABLES = [
  'rm_catalog_categories',
  'rm_catalog_products',
  'rm_catalog_stock',
  'rm_catalog_recent_reviews',
  'rm_catalog_page_marks',
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
    page_mark     SMALLINT NOT NULL, -- 1: a page mark in the listings it is in (page-marks.ts)
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
  )/*STOCK_LAYOUT*/;

  -- The newest reviews of each reviewed product, as one JSON array (RecentReview[], newest
  -- first): the detail page reads one row, and a batch rewrites it once per product.
  CREATE TABLE IF NOT EXISTS rm_catalog_recent_reviews (
    product_id TEXT PRIMARY KEY,
    reviews    TEXT NOT NULL
  );
${PAGE_MARKS_SETUP}`;

/** A batch's reviews of one product, summed up to be added in one statement. */
interface RatingDelta {
  sum: number;
  count: number;
  /** Reviews per star, 1 to 5. */
  readonly stars: [number, number, number, number, number];
}

/**
 * What a batch leaves to write once per product (or category) at its end, whatever the number
 * of events: a seed's or a busy shop's batch holds many events per product.
 */
interface Dirty {
  /**
   * Active products gained (or lost) per category in this batch, added to the stored counts at
   * its end: the counts are kept by deltas rather than recounted (a recount reads every product
   * of a category, and grows with the catalog).
   */
  readonly counts: Map<string, number>;
  /** Products whose stock moved in this batch. */
  readonly stock: Set<string>;
  /**
   * The batch's stock changes per product and warehouse, composed in log order (a count then
   * moves is a count; moves alone add up), written by a few multi-row statements at its end.
   */
  readonly units: Map<string, Map<string, StockChange>>;
  /** `updated_at` from stock counts, the last in log order (other events write it at once). */
  readonly updated: Map<string, number>;
  readonly ratings: Map<string, RatingDelta>;
  /** The batch's newest reviews per product, newest first, at most RECENT_REVIEWS. */
  readonly reviews: Map<string, RecentReview[]>;
  /** The category of each product (de)activated or reviewed, for `CatalogApplied`. */
  readonly categoryOf: Map<string, string>;
  /**
   * Products added in this batch: their stock total is still 0 (only the flush writes it) and
   * their kept reviews most likely have no row yet, which saves a read each (a rebuild's case).
   */
  readonly added: Set<string>;
  /** One listing entry in this many (on average) is a page mark. */
  readonly every: number;
  /**
   * The listings' page marks are kept event by event; not while a copy is built (`finishBuild`
   * derives them from the finished rows).
   */
  readonly keepMarks: boolean;
}

/** What a batch does to one warehouse's stock of a product: sets it, or adds to it. */
interface StockChange {
  set: boolean;
  units: number;
}

/** Composes a stock count (`set`) or move into the batch's change for that product and warehouse. */
function changeStock(
  dirty: Dirty,
  productId: string,
  warehouse: string,
  set: boolean,
  units: number,
) {
  let byWarehouse = dirty.units.get(productId);
  if (!byWarehouse) {
    byWarehouse = new Map();
    dirty.units.set(productId, byWarehouse);
  }
  const change = byWarehouse.get(warehouse);
  if (set || !change) byWarehouse.set(warehouse, { set, units });
  else change.units += units;
  dirty.stock.add(productId);
}

/** A product's name, category and whether it is active, as the read model holds them now. */
const placeOf = (sql: Sql, productId: string) =>
  sql.get<{ name: string; category_id: string; active: number }>(
    'SELECT name, category_id, active FROM rm_catalog_products WHERE id = ?',
    [productId],
  );

/** An active product (name, id) entered (or left) both listings it is in: all and its category's. */
async function moveListings(
  sql: Sql,
  dirty: Dirty,
  how: 'enter' | 'leave',
  category: string,
  name: string,
  id: string,
): Promise<void> {
  if (!dirty.keepMarks) return;
  const move = how === 'enter' ? enterListing : leaveListing;
  await move(sql, ALL_PRODUCTS, name, id, dirty.every);
  await move(sql, category, name, id, dirty.every);
}

/** Counts `delta` more active products in `category` (at the batch's end). */
function count(dirty: Dirty, category: string, delta: number): void {
  dirty.counts.set(category, (dirty.counts.get(category) ?? 0) + delta);
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
  dirty.updated.delete(data.productId);
  // The product as it was: for its category's count, and (outside a build) its page marks.
  const listed = data.categoryId !== undefined || (data.name !== undefined && dirty.keepMarks);
  const previous = listed ? await placeOf(sql, data.productId) : undefined;
  if (data.categoryId !== undefined) {
    if (previous?.active === 1 && previous.category_id !== data.categoryId) {
      count(dirty, previous.category_id, -1);
      count(dirty, data.categoryId, 1);
    }
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
  if (previous?.active !== 1 || !dirty.keepMarks) return;
  // A new name moves the product in both listings; a new category, from one category's to another's.
  const id = data.productId;
  const name = data.name ?? previous.name;
  const category = data.categoryId ?? previous.category_id;
  if (name !== previous.name) {
    await leaveListing(sql, ALL_PRODUCTS, previous.name, id, dirty.every);
    await enterListing(sql, ALL_PRODUCTS, name, id, dirty.every);
  }
  if (name !== previous.name || category !== previous.category_id) {
    await leaveListing(sql, previous.category_id, previous.name, id, dirty.every);
    await enterListing(sql, category, name, id, dirty.every);
  }
}

async function setActive(sql: Sql, productId: string, active: 0 | 1, at: string, dirty: Dirty) {
  const previous = await placeOf(sql, productId);
  if (previous) {
    if (previous.active !== active) count(dirty, previous.category_id, active ? 1 : -1);
    dirty.categoryOf.set(productId, previous.category_id);
  }
  dirty.updated.delete(productId);
  await sql.run('UPDATE rm_catalog_products SET active = ?, updated_at = ? WHERE id = ?', [
    active,
    epochMs(at),
    productId,
  ]);
  if (previous && previous.active !== active)
    await moveListings(
      sql,
      dirty,
      active ? 'enter' : 'leave',
      previous.category_id,
      previous.name,
      productId,
    );
}

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

function checkRating(rating: number): 1 | 2 | 3 | 4 | 5 {
  if (!Number.isInteger(rating) || rating < 1 || rating > 5) {
    throw new Error(`A rating must be 1 to 5, got ${rating}`);
  }
  return rating as 1 | 2 | 3 | 4 | 5;
}

async function applyOne(sql: Sql, e: PositionedEvent<ShopEvent>, dirty: Dirty): Promise<void> {
  switch (e.type) {
    case 'CategoryCreated': {
      // The batch's count changes so far go to the row if it exists; a new row counts its
      // active products itself (none, unless the log names the category before creating it).
      const id = e.data.categoryId;
      await addCount(sql, id, dirty.counts.get(id) ?? 0);
      dirty.counts.delete(id);
      await sql.run(
        `INSERT INTO rm_catalog_categories (id, name, product_count) VALUES (?, ?,
           (SELECT COUNT(*) FROM rm_catalog_products WHERE category_id = ? AND active = 1))
         ON CONFLICT (id) DO UPDATE SET name = excluded.name`,
        [id, e.data.name, id],
      );
      return;
    }
    case 'ProductAdded': {
      const d = e.data;
      await sql.run(
        `INSERT INTO rm_catalog_products (id, sku, name, description, category_id, category_name,
           price_cents, thumbnail_url, active, page_mark, updated_at)
         VALUES (?, ?, ?, ?, ?, COALESCE((SELECT name FROM rm_catalog_categories WHERE id = ?), ''),
           ?, ?, 1, ?, ?)`,
        [
          d.productId,
          d.sku,
          d.name,
          d.description,
          d.categoryId,
          d.categoryId,
          d.priceCents,
          d.thumbnailUrl,
          isMark(d.productId, dirty.every) ? 1 : 0,
          epochMs(d.at),
        ],
      );
      count(dirty, d.categoryId, 1);
      await moveListings(sql, dirty, 'enter', d.categoryId, d.name, d.productId);
      dirty.added.add(d.productId);
      // Whatever this batch held for the product before it existed went nowhere, as it would
      // have in a batch of its own.
      dirty.updated.delete(d.productId);
      dirty.ratings.delete(d.productId);
      return;
    }
    case 'ProductPriceUpdated':
      await sql.run('UPDATE rm_catalog_products SET price_cents = ?, updated_at = ? WHERE id = ?', [
        e.data.priceCents,
        epochMs(e.data.at),
        e.data.productId,
      ]);
      dirty.updated.delete(e.data.productId);
      return;
    case 'ProductDetailsChanged':
      return changeDetails(sql, e.data, dirty);
    case 'ProductActivated':
      return setActive(sql, e.data.productId, 1, e.data.at, dirty);
    case 'ProductDeactivated':
      return setActive(sql, e.data.productId, 0, e.data.at, dirty);
    case 'StockLevelSet':
      changeStock(dirty, e.data.productId, e.data.warehouse, true, e.data.quantity);
      // An admin's stock count is a change to the product (it shows in "recently updated").
      dirty.updated.set(e.data.productId, epochMs(e.data.at));
      return;
    case 'StockReserved':
      changeStock(dirty, e.data.productId, e.data.warehouse, false, -e.data.quantity);
      return;
    case 'StockReleased':
      changeStock(dirty, e.data.productId, e.data.warehouse, false, e.data.quantity);
      return;
    case 'ReviewCreated': {
      const d = e.data;
      const rating = checkRating(d.rating);
      let delta = dirty.ratings.get(d.productId);
      if (!delta) {
        delta = { sum: 0, count: 0, stars: [0, 0, 0, 0, 0] };
        dirty.ratings.set(d.productId, delta);
      }
      delta.sum += rating;
      delta.count++;
      delta.stars[rating - 1] = delta.stars[rating - 1]! + 1;
      let kept = dirty.reviews.get(d.productId);
      if (!kept) {
        kept = [];
        dirty.reviews.set(d.productId, kept);
      }
      keepNewest(
        kept,
        {
          id: d.reviewId,
          rating,
          text: d.text,
          authorName: d.authorName,
          createdAt: epochMs(d.at),
        },
        RECENT_REVIEWS,
      );
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

const ADD_RATINGS = `rating_sum = rating_sum + ?, rating_count = rating_count + ?,
  rating_mean = CAST(rating_sum + ? AS DOUBLE PRECISION) / (rating_count + ?),
  rating_1 = rating_1 + ?, rating_2 = rating_2 + ?, rating_3 = rating_3 + ?,
  rating_4 = rating_4 + ?, rating_5 = rating_5 + ?`;

/**
 * What a batch of the catalog projection tells the cache once committed (`onApplied`): the
 * products whose stock total moved while staying on the same side of zero. Listings show only
 * `stockAvailable` (stock > 0), so for these the batch changed the product's own document (its
 * `stock`) and no catalog page, search answer or related list.
 */
export interface CatalogApplied {
  readonly availabilityKept: ReadonlySet<string>;
  /**
   * The category of each product the batch (de)activated or reviewed, as the read model has it
   * after the batch: whose related lists (and pages) to drop, even in a process that never saw
   * the product's `ProductAdded` (started after it).
   */
  readonly categoryOf: ReadonlyMap<string, string>;
}

/** One UPDATE per product: its stock total, its last stock count's time, its new reviews. */
async function flushProduct(sql: Sql, id: string, dirty: Dirty, kept: Set<string>): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [];
  /** A product added in this batch: its total before is 0, its total after comes back. */
  const fresh = dirty.stock.has(id) && dirty.added.has(id);
  if (fresh) {
    sets.push(
      'stock = COALESCE((SELECT SUM(units) FROM rm_catalog_stock WHERE product_id = ?), 0)',
    );
    params.push(id);
  } else if (dirty.stock.has(id)) {
    // The total before this batch (the column is only written here) and after it.
    const row = await sql.get<{ before: number | string; after: number | string }>(
      `SELECT stock AS before,
         COALESCE((SELECT SUM(units) FROM rm_catalog_stock WHERE product_id = ?), 0) AS after
       FROM rm_catalog_products WHERE id = ?`,
      [id, id],
    );
    if (row) {
      const before = Number(row.before);
      const after = Number(row.after);
      sets.push('stock = ?');
      params.push(after);
      if (before > 0 === after > 0) kept.add(id);
    }
  }
  const updated = dirty.updated.get(id);
  if (updated !== undefined) {
    sets.push('updated_at = ?');
    params.push(updated);
  }
  const delta = dirty.ratings.get(id);
  if (delta) {
    sets.push(ADD_RATINGS);
    params.push(delta.sum, delta.count, delta.sum, delta.count, ...delta.stars);
  }
  if (sets.length === 0) return;
  params.push(id);
  const update = `UPDATE rm_catalog_products SET ${sets.join(', ')} WHERE id = ?`;
  if (!delta && !fresh) {
    await sql.run(update, params);
    return;
  }
  // A reviewed product's category, for CatalogApplied, and a fresh product's stock total, from
  // the same statement (no extra read).
  const [row] = await sql.all<{ category_id: string; stock: number | string }>(
    `${update} RETURNING category_id, stock`,
    params,
  );
  if (!row) return;
  if (delta) dirty.categoryOf.set(id, row.category_id);
  if (fresh && !(Number(row.stock) > 0)) kept.add(id);
}

/**
 * The kept reviews of products added in this batch, which most likely have no row yet: inserted
 * 64 to a statement; answers the products that had one after all (to be merged).
 */
async function insertReviews(sql: Sql, dirty: Dirty): Promise<Set<string>> {
  const fresh = [...dirty.reviews].filter(([id]) => dirty.added.has(id));
  const present = new Set(fresh.map(([id]) => id));
  await inChunks(fresh, async (chunk) => {
    const inserted = await sql.all<{ product_id: string }>(
      `INSERT INTO rm_catalog_recent_reviews (product_id, reviews) VALUES ${values(chunk.length, 2)}
       ON CONFLICT (product_id) DO NOTHING RETURNING product_id`,
      chunk.flatMap(([id, added]) => [id, JSON.stringify(added)]),
    );
    for (const r of inserted) present.delete(r.product_id);
  });
  return present;
}

/** Merges a batch's newest reviews of a product into the ones kept. */
async function flushReviews(sql: Sql, id: string, added: readonly RecentReview[]) {
  const row = await sql.get<{ reviews: string }>(
    'SELECT reviews FROM rm_catalog_recent_reviews WHERE product_id = ?',
    [id],
  );
  let kept = added as RecentReview[];
  if (row) {
    kept = JSON.parse(row.reviews) as RecentReview[];
    let changed = false;
    for (const review of added) changed = keepNewest(kept, review, RECENT_REVIEWS) || changed;
    if (!changed) return;
  }
  await sql.run(
    `INSERT INTO rm_catalog_recent_reviews (product_id, reviews) VALUES (?, ?)
     ON CONFLICT (product_id) DO UPDATE SET reviews = excluded.reviews`,
    [id, JSON.stringify(kept)],
  );
}

/** Adds `delta` to a category's count of active products (nothing if it has no row yet). */
async function addCount(sql: Sql, id: string, delta: number): Promise<void> {
  if (delta === 0) return;
  await sql.run('UPDATE rm_catalog_categories SET product_count = product_count + ? WHERE id = ?', [
    delta,
    id,
  ]);
}

/** Most rows per multi-row statement (a batch's rows go by 64, the rest by halves: few texts). */
const ROWS_PER_STATEMENT = 64;

/** Runs `write` on `rows` in chunks of 64, 32, … 1 rows: at most 7 distinct statements. */
async function inChunks<T>(rows: readonly T[], write: (chunk: readonly T[]) => Promise<void>) {
  let i = 0;
  for (let size = ROWS_PER_STATEMENT; size >= 1; size >>= 1) {
    while (rows.length - i >= size) {
      await write(rows.slice(i, i + size));
      i += size;
      if (size < ROWS_PER_STATEMENT) break; // a smaller chunk fits at most once
    }
  }
}

const values = (rows: number, columns: number) =>
  Array.from({ length: rows }, () => `(${Array(columns).fill('?').join(', ')})`).join(', ');

/** The batch's stock changes: counts in one kind of statement, moves in another, 64 rows each. */
async function flushStock(sql: Sql, dirty: Dirty): Promise<void> {
  const counts: unknown[][] = [];
  const moves: unknown[][] = [];
  for (const [productId, byWarehouse] of dirty.units)
    for (const [warehouse, change] of byWarehouse)
      (change.set ? counts : moves).push([productId, warehouse, change.units]);
  const write = (rows: readonly unknown[][], onConflict: string) =>
    inChunks(rows, async (chunk) => {
      await sql.run(
        `INSERT INTO rm_catalog_stock (product_id, warehouse, units) VALUES ${values(chunk.length, 3)}
         ON CONFLICT (product_id, warehouse) DO UPDATE SET ${onConflict}`,
        chunk.flat(),
      );
    });
  await write(counts, 'units = excluded.units');
  await write(moves, 'units = rm_catalog_stock.units + excluded.units');
}

/** The once-per-batch writes: stock, product documents, kept reviews, category counts. */
async function flush(sql: Sql, dirty: Dirty): Promise<CatalogApplied> {
  await flushStock(sql, dirty);
  const products = new Set([...dirty.stock, ...dirty.updated.keys(), ...dirty.ratings.keys()]);
  const availabilityKept = new Set<string>();
  for (const id of products) await flushProduct(sql, id, dirty, availabilityKept);
  const present = await insertReviews(sql, dirty);
  for (const [id, added] of dirty.reviews)
    if (!dirty.added.has(id) || present.has(id)) await flushReviews(sql, id, added);
  for (const [id, delta] of dirty.counts) await addCount(sql, id, delta);
  return { availabilityKept, categoryOf: dirty.categoryOf };
}

/** What a catalog projection may be given (tests use few entries per mark). */
export interface CatalogProjectionOptions {
  /** One listing entry in this many (on average) is a page mark (default 512). */
  readonly pageMarkEvery?: number;
}

/**
 * The catalog read model: categories with their active product counts, one flat document per
 * product (listing fields, detail fields, stock, rating figures and histogram, units sold), the
 * newest reviews per product, stock per warehouse, and the listings' page marks.
 */
export function createCatalogProjection(
  options: CatalogProjectionOptions = {},
): Projection<ShopEvent, ProjectionDb> {
  const every = options.pageMarkEvery ?? PAGE_MARK_EVERY;
  if (!Number.isInteger(every) || every < 1)
    throw new Error(`pageMarkEvery must be a whole number of at least 1, got ${every}`);
  return {
    name: 'catalog',
    // 2: the newest reviews are one JSON row per product (rm_catalog_recent_reviews).
    // 3: the listings' page marks (rm_catalog_page_marks).
    // 4: each product row says whether it is a mark (page_mark): a rebuild derives the marks
    // in the database.
    version: 4,
    tables: [
      'rm_catalog_categories',
      'rm_catalog_products',
      { name: 'rm_catalog_stock', key: ['product_id', 'warehouse'] },
      { name: 'rm_catalog_recent_reviews', key: ['product_id'] },
      { name: 'rm_catalog_page_marks', key: ['listing', 'name', 'id'] },
    ],
    // apply reads each event's type and data only: a rebuild reads the log's lean columns.
    eventFields: 'data',
    // While a copy is built, apply reads only by primary key (the category counts are kept by
    // deltas, the page marks are left to finishBuild): it keeps no secondary index (a category
    // created late counts its products by a scan). Once built, the marks are kept through the
    // listings' indexes.
    buildIndexes: [],
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
    // On SQLite the stock rows and the page marks live in their key's b-tree (WITHOUT ROWID): one
    // b-tree per write instead of a table and its key's index.
    setup: ({ sql }) => {
      const layout = sql.dialect === 'sqlite' ? ' WITHOUT ROWID' : '';
      return sql.exec(
        SETUP.replace('/*STOCK_LAYOUT*/', layout).replace('/*MARKS_LAYOUT*/', layout),
      );
    },
    async reset({ sql }) {
      for (const t of TABLES) await sql.run(`DELETE FROM ${t}`);
      await sql.exec('DROP TABLE IF EXISTS rm_catalog_reviews'); // version 1's review rows
    },
    finishBuild: ({ sql }) => derivePageMarks(sql),
    async apply(events, { sql }, context) {
      const dirty: Dirty = {
        counts: new Map(),
        stock: new Set(),
        units: new Map(),
        updated: new Map(),
        ratings: new Map(),
        reviews: new Map(),
        categoryOf: new Map(),
        added: new Set(),
        every,
        keepMarks: !context?.building,
      };
      for (const e of events) await applyOne(sql, e, dirty);
      return flush(sql, dirty);
    },
  };
}

/** The shop's catalog projection. */
export const catalogProjection = createCatalogProjection();
