// Before the sale, on the seeded original: learn the catalog over HTTP, give the sale's hot
// products a known stock, and register the customers who will order.
import { type Catalog, WAREHOUSES } from './traffic.js';

const FIRST_PAGES = 3;

async function call(
  url: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<unknown> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Waits until every projection has processed the whole log (a level-2 server). */
export async function caughtUp(url: string, adminToken: string, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await call(url, 'GET', '/api/admin/projections', adminToken)) as {
      name: string;
      lag: string | number;
      status: string;
    }[];
    const failed = status.find((s) => s.status === 'failed');
    if (failed) throw new Error(`projection ${failed.name} failed`);
    if (status.every((s) => Number(s.lag) === 0)) return;
    if (Date.now() > deadline) throw new Error('the projections did not catch up in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sets `units` in every warehouse of each of `products`. */
export async function setStock(
  url: string,
  adminToken: string,
  products: readonly string[],
  units: number,
): Promise<void> {
  for (const id of products)
    for (const warehouse of WAREHOUSES)
      await call(url, 'PUT', `/api/products/${id}/stock`, adminToken, {
        warehouse,
        quantity: units,
      });
}

/** Reads the catalog, sets the hot products' stock, registers customers; answers the catalog. */
export async function prepareSale(
  url: string,
  adminToken: string,
  opts: { hot: number; hotUnits: number; customers: number },
): Promise<Catalog> {
  const { items: categories } = (await call(url, 'GET', '/api/categories', adminToken)) as {
    items: { id: string; productCount: number }[];
  };
  const products: Catalog['products'][number][] = [];
  for (const c of categories) {
    for (let page = 1; page <= FIRST_PAGES; page++) {
      const { items } = (await call(
        url,
        'GET',
        `/api/catalog?category=${c.id}&page=${page}`,
        adminToken,
      )) as { items: { id: string; name: string; priceCents: number }[] };
      products.push(...items.map(({ id, name, priceCents }) => ({ id, name, priceCents })));
    }
  }
  if (products.length === 0) throw new Error('the seeded catalog is empty');
  // Interleave categories so that neither the hot set nor the Zipf head sits in one category.
  const byCategory = categories.map((_, i) =>
    products.slice(i * FIRST_PAGES * 24, (i + 1) * FIRST_PAGES * 24),
  );
  const interleaved: typeof products = [];
  for (let k = 0; interleaved.length < products.length; k++)
    for (const list of byCategory) if (list[k]) interleaved.push(list[k]!);
  const hot = interleaved.slice(0, opts.hot).map((p) => p.id);
  await setStock(url, adminToken, hot, opts.hotUnits);
  const customers: string[] = [];
  const run = Math.random().toString(36).slice(2, 8);
  for (let i = 0; i < opts.customers; i++) {
    const { token } = (await call(url, 'POST', '/api/customers', adminToken, {
      email: `flash-${run}-${i}@bench.invalid`,
      name: `Shopper ${i + 1}`,
    })) as { token: string };
    customers.push(token);
  }
  await caughtUp(url, adminToken);
  return { categories, products: interleaved, hot, customers, adminToken };
}
