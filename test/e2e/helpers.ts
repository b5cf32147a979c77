// Assertions and seeding shared by the end-to-end suites.
import { expect } from 'vitest';
import type { Reply, TestShop } from './harness.js';

export const DECIMAL = /^\d+$/;
/** A time-ordered id as the server makes them (UUIDv7: version 7, variant bits 10). */
export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A stack frame (`at fn (file.ts:1:2)`), a source path, or an internal error class in a body. */
const LEAK =
  /(\bat\s+\S+\s+\(|\bat\s+(file:|node:|\/)|\.(ts|js|mjs|cjs):\d+|node_modules|SqliteError|TypeError|ReferenceError)/;

/** A command's answer: `status`, a decimal `position` in the body equal to `X-Consistency-Token`. */
export function expectCommand<T extends Record<string, unknown>>(
  reply: Reply<T & { position: string }>,
  status: number,
): T & { position: string } {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status });
  expect(reply.body.position).toMatch(DECIMAL);
  expect(reply.headers.get('x-consistency-token')).toBe(reply.body.position);
  return reply.body;
}

/** A query's answer: 200 with a decimal `X-Read-Model-Position`. */
export function expectQuery<T>(reply: Reply<T>, status = 200): T {
  expect({ status: reply.status, body: reply.body }).toMatchObject({ status });
  expect(reply.headers.get('x-read-model-position')).toMatch(DECIMAL);
  return reply.body;
}

/** The documented error shape, exactly: `{ error: { code, message, details? } }`. */
export function expectError(reply: Reply, status: number, code: string, details?: unknown): void {
  expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status, code });
  expect(Object.keys(reply.body).sort()).toEqual(['error']);
  const keys = Object.keys(reply.body.error).sort();
  expect(keys.filter((k) => k !== 'details')).toEqual(['code', 'message']);
  expect(typeof reply.body.error.message).toBe('string');
  expect(reply.body.error.message.length).toBeGreaterThan(0);
  expect(JSON.stringify(reply.body)).not.toMatch(LEAK);
  expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
  if (details !== undefined) expect(reply.body.error.details).toEqual(details);
}

/** No answer of this shop was a 5xx, and no body showed a stack trace or a source path. */
export function expectNoServerErrors(t: TestShop): void {
  const bad = t.recorded.filter((r) => r.status >= 500 || LEAK.test(r.text));
  expect(bad.map((r) => `${r.method} ${r.path} -> ${r.status} ${r.text.slice(0, 200)}`)).toEqual(
    [],
  );
}

/**
 * Every successful command answered its position in `X-Consistency-Token`, and every successful
 * `/api` query answered `X-Read-Model-Position`.
 */
export function expectConsistencyHeaders(t: TestShop): void {
  const problems: string[] = [];
  for (const r of t.recorded) {
    if (r.status < 200 || r.status >= 300) continue;
    const path = r.path.split('?')[0] ?? '';
    if (r.method === 'GET' && path.startsWith('/api/') && path !== '/api/admin/projections') {
      if (!DECIMAL.test(r.headers.get('x-read-model-position') ?? ''))
        problems.push(`${r.method} ${r.path}: no X-Read-Model-Position`);
    }
    if (r.method !== 'GET' && !path.includes('/rebuild')) {
      const body = JSON.parse(r.text) as { position?: string };
      if (
        !DECIMAL.test(body.position ?? '') ||
        r.headers.get('x-consistency-token') !== body.position
      )
        problems.push(`${r.method} ${r.path}: position ${body.position} vs token header`);
    }
  }
  expect(problems).toEqual([]);
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits until the wall clock has moved past `since` (so two writes get distinct timestamps). */
export async function nextMillisecond(since = Date.now()): Promise<void> {
  await until('the clock to tick', () => (Date.now() > since ? true : undefined), 1000);
}

/** The event log's head: from /api/admin/projections (read-model) or a write-DB query's position. */
export async function headPosition(t: TestShop): Promise<string> {
  if (t.mode === 'read-model') {
    const r = await t.request('GET', '/api/admin/projections', { token: t.adminToken });
    expect(r.status).toBe(200);
    const heads = new Set((r.body as { headPosition: string }[]).map((p) => p.headPosition));
    expect(heads.size).toBe(1);
    return [...heads][0] as string;
  }
  const r = await t.request('GET', '/api/categories');
  expectQuery(r);
  return r.headers.get('x-read-model-position') as string;
}

// ---------------------------------------------------------------------------------------------
// Seeding over HTTP (every step asserted).

export async function createCategory(t: TestShop, name: string): Promise<string> {
  const r = await t.request('POST', '/api/categories', { body: { name }, token: t.adminToken });
  return expectCommand<{ id: string }>(r, 201).id;
}

export interface NewProduct {
  sku: string;
  name: string;
  description?: string;
  categoryId: string;
  priceCents: number;
  maxAllowedPriceCents?: number;
  thumbnailUrl?: string;
}

export async function createProduct(t: TestShop, p: NewProduct): Promise<string> {
  const r = await t.request('POST', '/api/products', {
    body: { description: '', ...p },
    token: t.adminToken,
  });
  return expectCommand<{ id: string }>(r, 201).id;
}

export async function setStock(
  t: TestShop,
  productId: string,
  quantity: number,
  warehouse = 'main',
): Promise<string> {
  const r = await t.request('PUT', `/api/products/${productId}/stock`, {
    body: { warehouse, quantity },
    token: t.adminToken,
  });
  return expectCommand(r, 200).position;
}

export async function setPrice(t: TestShop, productId: string, priceCents: number) {
  const r = await t.request('PUT', `/api/products/${productId}/price`, {
    body: { priceCents },
    token: t.adminToken,
  });
  return expectCommand(r, 200).position;
}

export async function placeOrder(
  t: TestShop,
  token: string,
  items: { productId: string; quantity: number }[],
  key = `key-${Math.random().toString(36).slice(2)}`,
) {
  return t.request<{ orderId: string; totalCents: number; position: string }>(
    'POST',
    '/api/orders',
    { body: { items }, token, headers: { 'idempotency-key': key } },
  );
}

/** What a listing item of `product` looks like. */
export function listing(
  id: string,
  fields: {
    name: string;
    priceCents: number;
    categoryName: string;
    stockAvailable?: boolean;
    avgRating?: number | null;
    reviewCount?: number;
    thumbnailUrl?: string | null;
  },
) {
  return {
    id,
    name: fields.name,
    priceCents: fields.priceCents,
    stockAvailable: fields.stockAvailable ?? false,
    avgRating: fields.avgRating ?? null,
    reviewCount: fields.reviewCount ?? 0,
    categoryName: fields.categoryName,
    thumbnailUrl: fields.thumbnailUrl ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// A model of what the shop should show, kept alongside the HTTP calls, so that every answer can
// be compared with an exact expected value.

export interface ListingItem {
  id: string;
  name: string;
  priceCents: number;
  stockAvailable: boolean;
  avgRating: number | null;
  reviewCount: number;
  categoryName: string;
  thumbnailUrl: string | null;
}

export interface ModelProduct {
  id: string;
  sku: string;
  name: string;
  description: string;
  categoryId: string;
  priceCents: number;
  thumbnailUrl: string | null;
  active: boolean;
  stock: Map<string, number>;
  ratings: number[];
  /** Units sold in orders that are not cancelled. */
  sold: number;
}

export const PAGE_SIZE = 24;

const byNameThenId = (a: { name: string; id: string }, b: { name: string; id: string }) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

export class ShopModel {
  readonly categories = new Map<string, string>();
  readonly products = new Map<string, ModelProduct>();

  constructor(private readonly t: TestShop) {}

  async category(name: string): Promise<string> {
    const id = await createCategory(this.t, name);
    this.categories.set(id, name);
    return id;
  }

  async product(p: NewProduct & { description?: string }): Promise<string> {
    const id = await createProduct(this.t, p);
    this.products.set(id, {
      id,
      sku: p.sku,
      name: p.name,
      description: p.description ?? '',
      categoryId: p.categoryId,
      priceCents: p.priceCents,
      thumbnailUrl: p.thumbnailUrl ?? null,
      active: true,
      stock: new Map(),
      ratings: [],
      sold: 0,
    });
    return id;
  }

  async stock(productId: string, quantity: number, warehouse = 'main'): Promise<string> {
    const position = await setStock(this.t, productId, quantity, warehouse);
    this.get(productId).stock.set(warehouse, quantity);
    return position;
  }

  async price(productId: string, priceCents: number): Promise<string> {
    const position = await setPrice(this.t, productId, priceCents);
    this.get(productId).priceCents = priceCents;
    return position;
  }

  async patch(productId: string, change: Record<string, unknown>): Promise<string> {
    const r = await this.t.request('PATCH', `/api/products/${productId}`, {
      body: change,
      token: this.t.adminToken,
    });
    const position = expectCommand(r, 200).position;
    Object.assign(this.get(productId), change);
    return position;
  }

  get(productId: string): ModelProduct {
    const p = this.products.get(productId);
    if (!p) throw new Error(`no product ${productId} in the model`);
    return p;
  }

  stockOf(productId: string): number {
    let total = 0;
    for (const q of this.get(productId).stock.values()) total += q;
    return total;
  }

  /** Units an order takes out of stock: from the warehouses with the most first. */
  take(productId: string, quantity: number): [string, number][] {
    const stock = this.get(productId).stock;
    const taken: [string, number][] = [];
    let remaining = quantity;
    while (remaining > 0) {
      const [warehouse, units] = [...stock].sort((a, b) =>
        b[1] !== a[1] ? b[1] - a[1] : a[0] < b[0] ? -1 : 1,
      )[0] ?? ['', 0];
      if (units <= 0) throw new Error('the model ran out of stock');
      const n = Math.min(units, remaining);
      stock.set(warehouse, units - n);
      taken.push([warehouse, n]);
      remaining -= n;
    }
    this.get(productId).sold += quantity;
    return taken;
  }

  /** Puts back what `take` took (a cancelled order). */
  release(productId: string, taken: [string, number][]): void {
    const p = this.get(productId);
    for (const [warehouse, n] of taken) p.stock.set(warehouse, (p.stock.get(warehouse) ?? 0) + n);
    p.sold -= taken.reduce((a, [, n]) => a + n, 0);
  }

  item(productId: string): ListingItem {
    const p = this.get(productId);
    const count = p.ratings.length;
    const sum = p.ratings.reduce((a, b) => a + b, 0);
    return {
      id: p.id,
      name: p.name,
      priceCents: p.priceCents,
      stockAvailable: this.stockOf(productId) > 0,
      avgRating: count > 0 ? Math.round((sum / count) * 100) / 100 : null,
      reviewCount: count,
      categoryName: this.categories.get(p.categoryId) ?? '?',
      thumbnailUrl: p.thumbnailUrl,
    };
  }

  /** Active products (of a category), by name then id. */
  listed(categoryId?: string): ModelProduct[] {
    return [...this.products.values()]
      .filter((p) => p.active && (categoryId === undefined || p.categoryId === categoryId))
      .sort(byNameThenId);
  }

  page(categoryId: string | undefined, page = 1) {
    const all = this.listed(categoryId);
    return {
      items: all.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE).map((p) => this.item(p.id)),
      page,
      pageSize: PAGE_SIZE,
      total: all.length,
    };
  }

  /** Up to 4 other active products of the category, best rated first, then by name and id. */
  related(productId: string): ListingItem[] {
    const p = this.get(productId);
    const mean = (x: ModelProduct) =>
      x.ratings.length === 0 ? 0 : x.ratings.reduce((a, b) => a + b, 0) / x.ratings.length;
    return this.listed(p.categoryId)
      .filter((x) => x.id !== productId)
      .sort((a, b) => mean(b) - mean(a) || byNameThenId(a, b))
      .slice(0, 4)
      .map((x) => this.item(x.id));
  }

  /** The product document, except `recentReviews` (whose times the server sets). */
  detail(productId: string) {
    const p = this.get(productId);
    const histogram = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
    for (const r of p.ratings) histogram[String(r) as keyof typeof histogram]++;
    return {
      ...this.item(productId),
      sku: p.sku,
      description: p.description,
      categoryId: p.categoryId,
      active: p.active,
      stock: this.stockOf(productId),
      ratingHistogram: histogram,
      related: this.related(productId),
    };
  }
}
