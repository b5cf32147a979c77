import type { FullTextIndex } from '../core/full-text.js';
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
  /** Called as work is done: the phase, units done in it, units in it. */
  readonly progress?: (phase: string, done: number, total: number) => void;
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
// Large transactions: random index inserts dirty pages all over the file, and each page is
// written once per commit however many rows it took, so fewer, bigger commits write far less.
const BATCH = 50_000;

/**
 * Loads a large catalog fast: the same rows and the same events the command handlers make
 * (so the read models project it like any other history), written in large transactions
 * instead of one command at a time. Deterministic for given ids and time.
 */
export async function bulkSeed(
  store: WriteStore<Sql>,
  fullText: FullTextIndex,
  options: BulkSeedOptions,
): Promise<{ products: number; reviews: number; events: number }> {
  const at = options.now.toISOString();
  const ms = options.now.getTime();
  const warehouses = options.warehouses ?? ['north', 'south', 'east'];
  const report = options.progress ?? (() => undefined);
  let events = 0;

  const categories: { id: string; name: string }[] = [];
  await store.transact(async (tx) => {
    for (let c = 0; c < options.categories; c++) {
      const id = options.newId();
      const name = `${pick(words, c * 7 + 3).replace(/^./, (x) => x.toUpperCase())} ${pick(nouns, c)} ${c + 1}`;
      categories.push({ id, name });
      await tx.db.run('INSERT INTO categories (id, name, created_at) VALUES (?, ?, ?)', [
        id,
        name,
        ms,
      ]);
      await tx.record(streams.category(id), [
        {
          type: 'CategoryCreated',
          data: { v: 1, categoryId: id, name, at },
        } satisfies CategoryCreated,
      ]);
      events++;
    }
  });

  const reviewers: { id: string; name: string }[] = [];
  const reviewerCount = Math.min(1000, Math.max(1, Math.ceil(options.reviews / 100)));
  await store.transact(async (tx) => {
    for (let r = 0; r < reviewerCount; r++) {
      const id = options.newId();
      const name = `Reviewer ${r + 1}`;
      reviewers.push({ id, name });
      await tx.db.run(
        'INSERT INTO customers (id, email, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)',
        [id, `reviewer-${r + 1}-${id.slice(0, 8)}@seed.invalid`, name, `seed-no-login-${id}`, ms],
      );
      await tx.record(streams.customer(id), [
        {
          type: 'CustomerRegistered',
          data: { v: 1, customerId: id, name, at },
        } satisfies CustomerRegistered,
      ]);
      events++;
    }
  });

  const productIds: string[] = [];
  for (let start = 0; start < options.products; start += BATCH) {
    const end = Math.min(options.products, start + BATCH);
    await store.transact(async (tx) => {
      for (let p = start; p < end; p++) {
        const id = options.newId();
        productIds.push(id);
        const category = pick(categories, p);
        const name = `${pick(words, p).replace(/^./, (x) => x.toUpperCase())} ${pick(words, p * 3 + 1)} ${pick(nouns, p * 7)} #${p + 1}`;
        const description = `A ${pick(words, p * 5 + 2)} ${pick(nouns, p)} from the ${category.name} range, item ${p + 1}.`;
        const priceCents = 199 + ((p * 7919) % 49_800);
        const sku = `SEED-${String(p + 1).padStart(7, '0')}-${id.slice(0, 6)}`;
        await tx.db.run(
          `INSERT INTO products (id, sku, name, description, category_id, price_cents, max_allowed_price_cents,
             thumbnail_url, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 1, ?, ?)`,
          [id, sku, name, description, category.id, priceCents, priceCents * 3, ms, ms],
        );
        await fullText.upsert(tx.db, 'products_fts', {
          id,
          title: name,
          body: description,
          extra: category.name,
        });
        const added: ProductAdded = {
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
        };
        const stock: StockLevelSet[] = warehouses.map((warehouse, w) => ({
          type: 'StockLevelSet',
          data: { v: 1, productId: id, warehouse, quantity: (p * 31 + w * 17) % 60, at },
        }));
        for (const s of stock) {
          await tx.db.run(
            'INSERT INTO inventory (product_id, warehouse, quantity) VALUES (?, ?, ?)',
            [id, s.data.warehouse, s.data.quantity],
          );
        }
        await tx.record(streams.product(id), [added, ...stock]);
        events += 1 + stock.length;
      }
    });
    report('products', end, options.products);
  }

  for (let start = 0; start < options.reviews; start += BATCH) {
    const end = Math.min(options.reviews, start + BATCH);
    await store.transact(async (tx) => {
      for (let r = start; r < end; r++) {
        const productId = productIds[(r * 7919) % productIds.length];
        if (!productId) break;
        const reviewer = pick(reviewers, r * 13);
        const id = options.newId();
        const rating = 1 + ((r * 37) % 5 === 0 ? 0 : (r * 7) % 5);
        const text = `${pick(words, r).replace(/^./, (x) => x.toUpperCase())} and ${pick(words, r * 3)}: ${rating} stars.`;
        await tx.db.run(
          'INSERT INTO reviews (id, product_id, customer_id, rating, text, created_at) VALUES (?, ?, ?, ?, ?, ?)',
          [id, productId, reviewer.id, rating, text, ms],
        );
        await tx.record(streams.product(productId), [
          {
            type: 'ReviewCreated',
            data: {
              v: 1,
              reviewId: id,
              productId,
              customerId: reviewer.id,
              authorName: reviewer.name,
              rating,
              text,
              at,
            },
          } satisfies ReviewCreated,
        ]);
        events++;
      }
    });
    report('reviews', end, options.reviews);
  }
  return { products: productIds.length, reviews: options.reviews, events };
}
