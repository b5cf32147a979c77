import type { FullTextDocument, FullTextIndex } from '../core/full-text.js';
import type { Event } from '../core/messages.js';
import type { Sql } from '../core/sql.js';
import type { WriteStore } from '../core/write-store.js';
import type {
  CategoryCreated,
  CustomerRegistered,
  ProductAdded,
  ReviewCreated,
  StockLevelSet,
} from './events.js';
import { streams } from './events.js';

export interface BulkSeedOptions {
  readonly products: number;
  readonly reviews: number;
  readonly categories: number;
  readonly warehouses?: readonly string[];
  /**
   * Called after each commit: the phase, units done in it, units in it. It may return a promise
   * (e.g. to let the event loop run); if it throws, the seed stops there.
   */
  readonly progress?: (phase: string, done: number, total: number) => void | Promise<void>;
  /** Ids for new rows; time-ordered ids keep every primary-key index growing at its end. */
  readonly newId: () => string;
  readonly now: Date;
}

const words = [
  'organic',
  'roasted',
  'premium',
  'classic',
  'compact',
  'ceramic',
  'steel',
  'bamboo',
  'smoky',
  'fresh',
  'vintage',
  'handmade',
  'light',
  'dark',
  'wireless',
  'portable',
  'deluxe',
  'mini',
  'family',
  'travel',
];
const nouns = [
  'coffee',
  'grinder',
  'kettle',
  'mug',
  'teapot',
  'filter',
  'scale',
  'tumbler',
  'press',
  'spoon',
];
const pick = <T>(xs: readonly T[], i: number) => xs[i % xs.length]!;
// Products (with their stock and reviews) per transaction: about 30,000 rows and events with
// the default 10 reviews each. Each commit writes only the pages it filled, since every index
// grows at its end; a bounded commit lets a concurrent projector follow.
const PRODUCTS_PER_COMMIT = 2_000;
const WAREHOUSES = ['north', 'south', 'east'];

/** Which product review `r` is about (spread evenly, 10 per product by default). */
const productOfReview = (r: number, products: number) => (r * 7919) % products;

/**
 * Reviews grouped by product: product `p`'s reviews are `order[start[p]]` to
 * `order[start[p + 1] - 1]`, in ascending review number (a counting sort).
 */
function reviewsByProduct(products: number, reviews: number) {
  const start = new Int32Array(products + 1);
  for (let r = 0; r < reviews; r++) {
    const p = productOfReview(r, products) + 1;
    start[p] = start[p]! + 1;
  }
  for (let p = 0; p < products; p++) start[p + 1] = start[p + 1]! + start[p]!;
  const next = start.slice(0, products);
  const order = new Int32Array(reviews);
  for (let r = 0; r < reviews; r++) {
    const p = productOfReview(r, products);
    order[next[p]!] = r;
    next[p] = next[p]! + 1;
  }
  return { start, order };
}

/** How many events `bulkSeed` records for these options (for a progress bar's total). */
export function bulkSeedEvents(options: Omit<BulkSeedOptions, 'newId' | 'now'>): number {
  const warehouses = (options.warehouses ?? WAREHOUSES).length;
  const reviewers = Math.min(1000, Math.max(1, Math.ceil(options.reviews / 100)));
  const reviews = options.products === 0 ? 0 : options.reviews;
  return options.categories + reviewers + options.products * (1 + warehouses) + reviews;
}

/** One row of each table the seed fills, in column order (see src/shop/schema.ts). */
export interface SeedRows {
  readonly categories: [id: string, name: string, createdAt: number][];
  readonly customers: [
    id: string,
    email: string,
    name: string,
    tokenHash: string,
    createdAt: number,
  ][];
  readonly products: [
    id: string,
    sku: string,
    name: string,
    description: string,
    categoryId: string,
    priceCents: number,
    maxAllowedPriceCents: number,
    createdAt: number,
  ][];
  readonly inventory: [productId: string, warehouse: string, quantity: number][];
  readonly reviews: [
    id: string,
    productId: string,
    customerId: string,
    rating: number,
    text: string,
    createdAt: number,
  ][];
  /** The products' full-text documents (index `products_fts`). */
  readonly fullText: FullTextDocument[];
}

/** One transaction's worth of the seed: its rows and its events, one append per stream. */
export interface SeedBatch extends SeedRows {
  readonly appends: { streamId: string; events: Event[] }[];
  /** After the batch commits: progress to report, as `(phase, done, total)`. */
  readonly progress: [phase: string, done: number, total: number][];
}

const emptyBatch = (): SeedBatch => ({
  categories: [],
  customers: [],
  products: [],
  inventory: [],
  reviews: [],
  fullText: [],
  appends: [],
  progress: [],
});

/**
 * The seed, batch by batch: the same rows and the same events the command handlers make (so
 * the read models project it like any other history). Deterministic for given ids and time.
 *
 * Each product comes with its stock and its reviews, and its events go to its stream in one
 * append (ProductAdded, StockLevelSet per warehouse, then its ReviewCreated): with
 * time-ordered ids every index (products, reviews, inventory, the log's stream index) grows
 * at its end, and a projector sees each product's events together, so it can sum them per
 * product. Which reviews a product gets does not depend on that order.
 */
export function* seedBatches(options: BulkSeedOptions): Generator<SeedBatch> {
  const at = options.now.toISOString();
  const ms = options.now.getTime();
  const warehouses = options.warehouses ?? WAREHOUSES;
  const totalReviews = options.products === 0 ? 0 : options.reviews;

  const categories: { id: string; name: string }[] = [];
  let batch = emptyBatch();
  for (let c = 0; c < options.categories; c++) {
    const id = options.newId();
    const name = `${pick(words, c * 7 + 3).replace(/^./, (x) => x.toUpperCase())} ${pick(nouns, c)} ${c + 1}`;
    categories.push({ id, name });
    batch.categories.push([id, name, ms]);
    batch.appends.push({
      streamId: streams.category(id),
      events: [
        {
          type: 'CategoryCreated',
          data: { v: 1, categoryId: id, name, at },
        } satisfies CategoryCreated,
      ],
    });
  }
  yield batch;

  const reviewers: { id: string; name: string }[] = [];
  const reviewerCount = Math.min(1000, Math.max(1, Math.ceil(options.reviews / 100)));
  batch = emptyBatch();
  for (let r = 0; r < reviewerCount; r++) {
    const id = options.newId();
    const name = `Reviewer ${r + 1}`;
    reviewers.push({ id, name });
    // The id's end is random (its start is a time): it keeps seeds into one store apart.
    batch.customers.push([
      id,
      `reviewer-${r + 1}-${id.slice(-8)}@seed.invalid`,
      name,
      `seed-no-login-${id}`,
      ms,
    ]);
    batch.appends.push({
      streamId: streams.customer(id),
      events: [
        {
          type: 'CustomerRegistered',
          data: { v: 1, customerId: id, name, at },
        } satisfies CustomerRegistered,
      ],
    });
  }
  yield batch;

  const byProduct = reviewsByProduct(options.products, totalReviews);
  for (let start = 0; start < options.products; start += PRODUCTS_PER_COMMIT) {
    const end = Math.min(options.products, start + PRODUCTS_PER_COMMIT);
    batch = emptyBatch();
    for (let p = start; p < end; p++) {
      const id = options.newId();
      const category = pick(categories, p);
      const name = `${pick(words, p).replace(/^./, (x) => x.toUpperCase())} ${pick(words, p * 3 + 1)} ${pick(nouns, p * 7)} #${p + 1}`;
      const description = `A ${pick(words, p * 5 + 2)} ${pick(nouns, p)} from the ${category.name} range, item ${p + 1}.`;
      const priceCents = 199 + ((p * 7919) % 49_800);
      const sku = `SEED-${String(p + 1).padStart(7, '0')}-${id.slice(-6)}`;
      batch.products.push([
        id,
        sku,
        name,
        description,
        category.id,
        priceCents,
        priceCents * 3,
        ms,
      ]);
      batch.fullText.push({ id, title: name, body: description, extra: category.name });
      const stream: (ProductAdded | StockLevelSet | ReviewCreated)[] = [
        {
          type: 'ProductAdded',
          data: {
            v: 1,
            productId: id,
            sku,
            name,
            description,
            categoryId: category.id,
            priceCents,
            maxAllowedPriceCents: priceCents * 3,
            thumbnailUrl: null,
            at,
          },
        },
      ];
      for (const [w, warehouse] of warehouses.entries()) {
        const quantity = (p * 31 + w * 17) % 60;
        batch.inventory.push([id, warehouse, quantity]);
        stream.push({
          type: 'StockLevelSet',
          data: { v: 1, productId: id, warehouse, quantity, at },
        });
      }
      for (let i = byProduct.start[p]!; i < byProduct.start[p + 1]!; i++) {
        const r = byProduct.order[i]!;
        const reviewer = pick(reviewers, r * 13);
        const reviewId = options.newId();
        const rating = 1 + ((r * 37) % 5 === 0 ? 0 : (r * 7) % 5);
        const text = `${pick(words, r).replace(/^./, (x) => x.toUpperCase())} and ${pick(words, r * 3)}: ${rating} stars.`;
        batch.reviews.push([reviewId, id, reviewer.id, rating, text, ms]);
        stream.push({
          type: 'ReviewCreated',
          data: {
            v: 1,
            reviewId,
            productId: id,
            customerId: reviewer.id,
            authorName: reviewer.name,
            rating,
            text,
            at,
          },
        });
      }
      batch.appends.push({ streamId: streams.product(id), events: stream });
    }
    batch.progress.push(['products', end, options.products]);
    if (totalReviews > 0) batch.progress.push(['reviews', byProduct.start[end]!, totalReviews]);
    yield batch;
  }
}

/** What a seed wrote. */
export interface SeedResult {
  readonly products: number;
  readonly reviews: number;
  readonly events: number;
}

/**
 * Runs the seed's batches through `write` (one transaction each), reporting progress after
 * each commit.
 */
export async function runSeed(
  options: BulkSeedOptions,
  write: (batch: SeedBatch) => Promise<void>,
): Promise<SeedResult> {
  const report = options.progress ?? (() => undefined);
  let events = 0;
  let reviews = 0;
  for (const batch of seedBatches(options)) {
    await write(batch);
    for (const a of batch.appends) events += a.events.length;
    reviews += batch.reviews.length;
    for (const [phase, done, total] of batch.progress) await report(phase, done, total);
  }
  return { products: options.products, reviews, events };
}

/**
 * Loads a large catalog fast through any write store: the seed's rows one statement each, in
 * large transactions instead of one command at a time (see `seedBatches`).
 */
export function bulkSeed(
  store: WriteStore<Sql>,
  fullText: FullTextIndex,
  options: BulkSeedOptions,
): Promise<SeedResult> {
  return runSeed(options, async (batch) => {
    await store.transact(async (tx) => {
      const run = async (sql: string, rows: readonly (readonly unknown[])[]) => {
        for (const row of rows) await tx.db.run(sql, [...row]);
      };
      await run('INSERT INTO categories (id, name, created_at) VALUES (?, ?, ?)', batch.categories);
      await run(
        'INSERT INTO customers (id, email, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)',
        batch.customers,
      );
      for (const [i, row] of batch.products.entries()) {
        const [id, sku, name, description, categoryId, price, maxPrice, ms] = row;
        await tx.db.run(
          `INSERT INTO products (id, sku, name, description, category_id, price_cents, max_allowed_price_cents,
             thumbnail_url, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 1, ?, ?)`,
          [id, sku, name, description, categoryId, price, maxPrice, ms, ms],
        );
        await fullText.upsert(tx.db, 'products_fts', batch.fullText[i]!);
      }
      await run(
        'INSERT INTO inventory (product_id, warehouse, quantity) VALUES (?, ?, ?)',
        batch.inventory,
      );
      await run(
        'INSERT INTO reviews (id, product_id, customer_id, rating, text, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        batch.reviews,
      );
      for (const a of batch.appends) await tx.record(a.streamId, a.events);
    });
  });
}
