// End to end: "customers who bought this also bought", computed per request on the write DB
// (level 1) and kept by a debounced background job in the read DB (level 2). Both answer the
// same lists once the job has run (in-process on the embedded stack, BullMQ on the production one).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../stores/services.js';
import { MODES, startShop, type TestShop } from './harness.js';
import {
  createCategory,
  createProduct,
  expectCommand,
  expectError,
  expectNoServerErrors,
  placeOrder,
  setStock,
  until,
} from './helpers.js';

describe.each(MODES)('also bought (%s, %s)', (mode, stack) => {
  let t: TestShop;
  const p: Record<string, string> = {};

  beforeAll(async () => {
    t = await startShop(mode, { TWOROOMS_JOB_DELAY_MS: '20' }, stack);
    const cat = await createCategory(t, 'Kitchen');
    for (const name of ['kettle', 'teapot', 'mug', 'cups', 'spoon', 'tray']) {
      p[name] = await createProduct(t, { sku: name, name, categoryId: cat, priceCents: 100 });
      await setStock(t, p[name] as string, 1000);
    }
  });
  afterAll(async () => {
    expectNoServerErrors(t);
    await t.close();
  });

  const ids = async (product: string) => {
    const r = await t.read(`/api/products/${p[product]}/also-bought`);
    expect(r.status).toBe(200);
    return (r.body.items as { id: string; name: string }[]).map((i) => i.name);
  };

  it('lists the products most often in the same orders, most orders first, ties by id', async () => {
    const c = await t.customer();
    const buy = async (...names: string[]) =>
      expectCommand(
        await placeOrder(
          t,
          c.token,
          names.map((n) => ({ productId: p[n] as string, quantity: 1 })),
        ),
        201,
      );
    expect(await ids('kettle')).toEqual([]);
    await buy('kettle', 'teapot', 'mug');
    await buy('kettle', 'teapot');
    await buy('kettle', 'cups', 'spoon', 'tray');
    await buy('mug'); // bought alone: no pair
    // teapot shares 2 orders with the kettle; the others 1 each, by id (ids are time-ordered).
    const expected = ['teapot', 'mug', 'cups', 'spoon'];
    await until('the also-bought job', async () => {
      const got = await ids('kettle');
      return JSON.stringify(got) === JSON.stringify(expected) ? got : undefined;
    });
    // Each product's job runs on its own (BullMQ gives no order between keys): wait for each.
    const listed = (product: string, names: string[]) =>
      until(`the also-bought job of ${product}`, async () => {
        const got = await ids(product);
        return JSON.stringify(got) === JSON.stringify(names) ? got : undefined;
      });
    expect(await listed('teapot', ['kettle', 'mug'])).toEqual(['kettle', 'mug']);
    expect(await listed('tray', ['kettle', 'cups', 'spoon'])).toEqual(['kettle', 'cups', 'spoon']);
    if (stack === 'production' && mode === 'read-model') {
      // The job ran on BullMQ, under this shop's own key prefix.
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${t.shop.config.cache?.jobsPrefix}:also-bought:*`);
      redis.disconnect();
      expect(keys.length).toBeGreaterThan(0);
    }
  });

  it('drops the pairs of a cancelled order once the job has rerun', async () => {
    const c = await t.customer();
    const r = expectCommand<{ orderId: string }>(
      await placeOrder(t, c.token, [
        { productId: p['spoon'] as string, quantity: 1 },
        { productId: p['tray'] as string, quantity: 1 },
      ]),
      201,
    );
    await until('the pair to count', async () => {
      const got = await ids('spoon');
      return got[0] === 'tray' ? got : undefined;
    });
    expectCommand(
      await t.request('POST', `/api/orders/${r.orderId}/cancel`, { token: c.token }),
      200,
    );
    await until('the cancelled pair to go', async () => {
      const got = await ids('spoon');
      return JSON.stringify(got) === JSON.stringify(['kettle', 'cups', 'tray']) ? got : undefined;
    });
  });

  it('answers 404 NOT_FOUND for an unknown product and 400 for a malformed id', async () => {
    expectError(await t.read('/api/products/nope/also-bought'), 404, 'NOT_FOUND');
    expect((await t.read('/api/products/bad!id/also-bought')).status).toBe(400);
  });
});
