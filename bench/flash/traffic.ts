// The flash sale's traffic, built up front (so the load generator only sends): reads skewed as
// real shoppers browse (Zipf over categories, pages and products) and the sale's writes.
import { randomUUID } from 'node:crypto';

/** One HTTP request as the load generator sends it. */
export interface Req {
  readonly kind: string;
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  /** A price change whose visibility in the read model the generator times (projection lag). */
  readonly probeProduct?: string;
}

export interface Catalog {
  readonly categories: readonly { id: string; productCount: number }[];
  /** Products known to the bench (the first pages of every category), with their seeded prices. */
  readonly products: readonly { id: string; name: string; priceCents: number }[];
  /** The flash sale's products: every order buys some of these. */
  readonly hot: readonly string[];
  /** Customer tokens, registered before the sale. */
  readonly customers: readonly string[];
  readonly adminToken: string;
}

/** A seeded pseudo-random generator (LCG): the same traffic on every run of the same size. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A Zipf(s) sampler over ranks 0..n-1 (rank 0 the most popular), by inverse CDF. */
export function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) {
    total += 1 / (k + 1) ** s;
    cdf[k] = total;
  }
  return () => {
    const u = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const PAGE_SIZE = 24;
const MAX_PAGE = 40;
/** Read mix: catalog pages, product details, searches (per 100). */
const READ_MIX = { catalog: 70, detail: 20, search: 10 };
/** Write mix: orders, price changes, stock counts, reviews (per 100). */
const WRITE_MIX = { order: 70, price: 10, stock: 10, review: 10 };
/** Units each stock count sets on a hot product's warehouse during the sale. */
export const RESTOCK_UNITS = 200;
// The seed's warehouses (src/shop/bulk-seed.ts).
export const WAREHOUSES = ['north', 'south', 'east'] as const;

/** `count` reads: catalog pages, product details and searches, skewed as real traffic is. */
export function readRequests(catalog: Catalog, count: number, seed = 1): Req[] {
  const random = rng(seed);
  const category = zipf(catalog.categories.length, 1, random);
  const page = zipf(MAX_PAGE, 1.2, random);
  const product = zipf(catalog.products.length, 1, random);
  const words = [...new Set(catalog.products.flatMap((p) => p.name.split(' ').slice(0, 3)))]
    .filter((w) => /^[a-z]{3,}$/i.test(w))
    .slice(0, 200);
  const word = zipf(Math.max(1, words.length), 1, random);
  const out: Req[] = [];
  for (let i = 0; i < count; i++) {
    const r = random() * 100;
    if (r < READ_MIX.catalog) {
      const c = catalog.categories[category()]!;
      const pages = Math.max(1, Math.ceil(c.productCount / PAGE_SIZE));
      const p = 1 + (page() % pages);
      out.push({ kind: 'catalog', method: 'GET', path: `/api/catalog?category=${c.id}&page=${p}` });
    } else if (r < READ_MIX.catalog + READ_MIX.detail) {
      out.push({
        kind: 'detail',
        method: 'GET',
        path: `/api/products/${catalog.products[product()]!.id}`,
      });
    } else {
      const q = encodeURIComponent(words[word()] ?? 'a');
      out.push({ kind: 'search', method: 'GET', path: `/api/search?q=${q}&page=1` });
    }
  }
  return out;
}

const json = (token: string) => ({
  'content-type': 'application/json',
  authorization: `Bearer ${token}`,
});

/** One order of 1–3 hot products (1–2 units each), with its own Idempotency-Key. */
export function orderRequest(catalog: Catalog, random: () => number, hot: () => number): Req {
  const lines = 1 + Math.floor(random() * 3);
  const ids = new Set<string>();
  for (let l = 0; l < lines; l++) ids.add(catalog.hot[hot()]!);
  const items = [...ids].map((productId) => ({
    productId,
    quantity: 1 + Math.floor(random() * 2),
  }));
  const token = catalog.customers[Math.floor(random() * catalog.customers.length)]!;
  return {
    kind: 'order',
    method: 'POST',
    path: '/api/orders',
    body: JSON.stringify({ items }),
    headers: { ...json(token), 'idempotency-key': randomUUID() },
  };
}

/** `count` writes of the sale: orders on hot products, price changes, stock counts, reviews. */
export function writeRequests(catalog: Catalog, count: number, seed = 2): Req[] {
  const random = rng(seed);
  const hot = zipf(catalog.hot.length, 0.8, random);
  const product = zipf(catalog.products.length, 1, random);
  const admin = json(catalog.adminToken);
  const out: Req[] = [];
  for (let i = 0; i < count; i++) {
    const r = random() * 100;
    if (r < WRITE_MIX.order) out.push(orderRequest(catalog, random, hot));
    else if (r < WRITE_MIX.order + WRITE_MIX.price) {
      // Within 80–100% of the seeded price: always valid (the seed's limit is 3× the price).
      const p = catalog.products[product()]!;
      const priceCents = Math.max(1, Math.round(p.priceCents * (0.8 + random() * 0.2)));
      out.push({
        kind: 'price',
        method: 'PUT',
        path: `/api/products/${p.id}/price`,
        body: JSON.stringify({ priceCents }),
        headers: admin,
        probeProduct: p.id,
      });
    } else if (r < WRITE_MIX.order + WRITE_MIX.price + WRITE_MIX.stock) {
      // Stock counts race the orders on the same hot products: the oversell check's hard case.
      const id = catalog.hot[hot()]!;
      const warehouse = WAREHOUSES[Math.floor(random() * WAREHOUSES.length)]!;
      out.push({
        kind: 'stock',
        method: 'PUT',
        path: `/api/products/${id}/stock`,
        body: JSON.stringify({ warehouse, quantity: Math.floor(random() * RESTOCK_UNITS) }),
        headers: admin,
      });
    } else {
      const token = catalog.customers[Math.floor(random() * catalog.customers.length)]!;
      out.push({
        kind: 'review',
        method: 'POST',
        path: `/api/products/${catalog.products[product()]!.id}/reviews`,
        body: JSON.stringify({ rating: 1 + Math.floor(random() * 5), text: 'Bought in the sale.' }),
        headers: json(token),
      });
    }
  }
  return out;
}

/** `count` orders only: the closed-loop order throughput phase. */
export function orderRequests(catalog: Catalog, count: number, seed = 3): Req[] {
  const random = rng(seed);
  const hot = zipf(catalog.hot.length, 0.8, random);
  return Array.from({ length: count }, () => orderRequest(catalog, random, hot));
}
