// The seed scenario of issue 6: a wrong projection version corrupts the catalog under a stream
// of commands; the fixed version is deployed and rebuilt blue/green while a query loop runs; the
// loop sees no error and no half-built answer; verify then finds zero differences.
import { afterEach, expect, it } from 'vitest';
import { openShopStores } from '../../src/cli/shop-files.js';
import { type RecordedEvent, verifyProjection } from '../../src/core/index.js';
import { catalogProjection } from '../../src/shop/catalog/projection.js';
import type { ShopEvent } from '../../src/shop/events.js';
import { shopProjections } from '../../src/shop/query-handlers.js';
import { type ShopFiles, STACKS, seedCatalog, shopFiles, type TestShop, until } from './shop.js';

let files: ShopFiles | undefined;
afterEach(async () => {
  await files?.remove();
  files = undefined;
});

const others = shopProjections().filter((p) => p.name !== 'catalog');

/** The catalog's version as deployed is the bug: it stores ten times every new price. */
const buggy = {
  ...catalogProjection,
  apply: (
    events: readonly RecordedEvent<ShopEvent>[],
    db: Parameters<typeof catalogProjection.apply>[1],
  ) =>
    catalogProjection.apply(
      events.map((e) =>
        e.type === 'ProductPriceUpdated'
          ? { ...e, data: { ...e.data, priceCents: e.data.priceCents * 10 } }
          : e,
      ),
      db,
    ),
};

const N = 30;
const nextTick = () => new Promise((r) => setImmediate(r));

async function verifyCatalog(f: ShopFiles) {
  const stores = await openShopStores(f.config);
  try {
    return await verifyProjection({
      log: stores.write.log,
      store: stores.store,
      projection: catalogProjection,
    });
  } finally {
    await stores.close();
  }
}

async function catalogPrices(shop: TestShop): Promise<Map<string, number>> {
  const prices = new Map<string, number>();
  for (const page of [1, 2]) {
    const r = await shop.call('GET', `/api/catalog?page=${page}`);
    for (const i of r.body.items) prices.set(i.id, i.priceCents);
  }
  return prices;
}

it.each(STACKS)(
  'rebuilds a corrupted catalog blue/green under load; verify then finds no difference (%s)',
  async (stack) => {
    files = await shopFiles(stack);
    const first = await files.open({ projections: [buggy, ...others] });
    const { productIds } = await seedCatalog(first, N);
    const expected = new Map(productIds.map((id, i) => [id, (i + 1) * 100]));
    const setPrice = async (shop: TestShop, id: string, price: number) => {
      const r = await shop.call('PUT', `/api/products/${id}/price`, { priceCents: price });
      expect(r.status).toBe(200);
      expected.set(id, price);
    };
    for (let i = 0; i < 3 * N; i++) await setPrice(first, productIds[i % N]!, 500 + i);
    await first.shop.projector?.catchUp();
    const corrupted = await catalogPrices(first);
    expect(corrupted.get(productIds[0]!)).toBe(expected.get(productIds[0]!)! * 10);
    expect((await verifyCatalog(files)).differing).toBe(N);
    await first.close();

    // Deploy the fix (the next version). Its copy is held after its first batch until the query loop has
    // seen the old copy serving, so the switch happens while the loop runs.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let batches = 0;
    const fixed = {
      ...catalogProjection,
      version: catalogProjection.version + 1,
      async apply(
        events: readonly RecordedEvent<ShopEvent>[],
        db: Parameters<typeof catalogProjection.apply>[1],
      ) {
        if (++batches > 1) await gate;
        return catalogProjection.apply(events, db);
      },
    };
    const shop = await files.open({ projections: [fixed, ...others], batchSize: 10 });
    const errors: string[] = [];
    let answers = 0;
    let oldAnswers = 0;
    let newAnswers = 0;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        for (const page of [1, 2]) {
          const r = await shop.call('GET', `/api/catalog?page=${page}`);
          answers++;
          if (r.status !== 200) errors.push(`${r.status} ${JSON.stringify(r.body)}`);
          else if (r.body.total !== N || r.body.items.length !== (page === 1 ? 24 : N - 24))
            errors.push(`half-built: total ${r.body.total}, ${r.body.items.length} items`);
          else {
            const first = r.body.items.find((i: { id: string }) => i.id === productIds[0]);
            if (first && first.priceCents === corrupted.get(productIds[0]!)) oldAnswers++;
            if (first && first.priceCents === expected.get(productIds[0]!)) newAnswers++;
          }
        }
        await nextTick();
      }
    })();
    // Commands keep coming during the rebuild (not product 0: its price tells old from new).
    let k = 0;
    const writes = (async () => {
      while (!stop) {
        await setPrice(shop, productIds[1 + (k++ % (N - 1))]!, 10_000 + k);
        await nextTick();
      }
    })();
    await until(() => oldAnswers >= 10 && k >= 10);
    const rebuilding = await shop.call('GET', '/api/admin/projections');
    expect(rebuilding.body.find((s: { name: string }) => s.name === 'catalog')).toMatchObject({
      version: fixed.version,
      status: 'rebuilding',
      rebuild: { phase: 'building' },
    });
    release();
    await until(async () => {
      const s = await shop.call('GET', '/api/admin/projections');
      return s.body.find((p: { name: string }) => p.name === 'catalog').rebuild.phase === 'done';
    });
    await until(() => newAnswers >= 10);
    stop = true;
    await Promise.all([loop, writes]);
    await shop.shop.projector?.catchUp();

    expect(errors).toEqual([]);
    expect(answers).toBeGreaterThan(20);
    const status = (await shop.call('GET', '/api/admin/projections')).body.find(
      (s: { name: string }) => s.name === 'catalog',
    );
    expect(status).toMatchObject({
      version: fixed.version,
      generation: 1,
      status: 'live',
      lag: '0',
    });
    expect(await catalogPrices(shop)).toEqual(expected);
    const report = await verifyCatalog(files);
    expect(report.differing).toBe(0);
    expect(report.rows['rm_catalog_products']).toBe(N);
    await shop.close();
  },
);
