// On the production stack (PostgreSQL read model, Redis cache, as the shop's server wires it): an
// answer cached from the old copy of a read model does not survive a blue/green switch. The live
// catalog is corrupted by hand (as a buggy projection would have left it), its wrong answers are
// cached in Redis, the catalog is rebuilt through the admin API; once switched, the shop answers
// the rebuilt copy's figures, and caches them again.
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJson } from '../../src/core/json.js';
import { pageKey, productKey } from '../../src/shop/cache-tags.js';
import { type Reply, STACKS, startShop, type TestShop } from '../e2e/harness.js';
import { expectQuery, headPosition, ShopModel, until } from '../e2e/helpers.js';
import { REDIS_URL } from '../stores/services.js';
import type { ProjectionStatusBody } from './shop.js';

const sourceOf = (r: Reply) => r.headers.get('x-read-source');
const CORRUPTED = 66_600;

// STACKS holds 'production' when PostgreSQL, Redis and NATS answer (under CI they must).
describe.skipIf(!STACKS.includes('production'))(
  'Redis cache across a blue/green switch (production stack)',
  () => {
    let t: TestShop;
    let m: ShopModel;
    let redis: Redis;
    let prefix: string;
    let tea: string;
    let oolong: string;

    const catalogStatus = async (): Promise<ProjectionStatusBody> => {
      const r = await t.request('GET', '/api/admin/projections', { token: t.adminToken });
      expect(r.status).toBe(200);
      const s = (r.body as ProjectionStatusBody[]).find((p) => p.name === 'catalog');
      if (!s) throw new Error('no catalog projection in /api/admin/projections');
      return s;
    };
    /** The keys matching `pattern` (SCAN to the end: the server may hold many other keys). */
    const keysMatching = async (pattern: string): Promise<string[]> => {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        found.push(...keys);
        cursor = next;
      } while (cursor !== '0');
      return found.sort();
    };
    /** The cache entries of this shop's prefix (its BullMQ queues live under `<prefix>:jobs`). */
    const entryKeys = () => keysMatching(`${prefix}:entry:*`);
    const entry = async (key: string) => {
      const [stamp, value] = await redis.hmget(`${prefix}:entry:${key}`, 's', 'v');
      return { stamp: Number(stamp), value: value == null ? undefined : decodeJson(value) };
    };
    const floor = async () => Number((await redis.get(`${prefix}:floor`)) ?? 0);

    beforeAll(async () => {
      // A TTL far beyond the test's length: an entry can only go by a clear or an invalidation.
      t = await startShop('read-model', { TWOROOMS_CACHE_TTL_MS: '600000' }, 'production');
      const cache = t.shop.config.cache;
      if (!cache) throw new Error('the production stack runs without the Redis cache');
      prefix = cache.prefix;
      expect(prefix).toMatch(/^test:e2e:[0-9a-f]{10}$/);
      redis = new Redis(REDIS_URL);
      m = new ShopModel(t);
      tea = await m.category('Tea');
      await m.product({ sku: 'TEA-GREEN', name: 'Green Tea', categoryId: tea, priceCents: 500 });
      await m.product({ sku: 'TEA-BLACK', name: 'Black Tea', categoryId: tea, priceCents: 400 });
      oolong = await m.product({
        sku: 'TEA-OOLONG',
        name: 'Oolong Tea',
        categoryId: tea,
        priceCents: 650,
      });
    });

    afterAll(async () => {
      try {
        await t?.close(); // drops both databases, deletes every key of the prefix and the stream
        if (prefix && redis) expect(await keysMatching(`${prefix}:*`)).toEqual([]);
      } finally {
        redis?.disconnect();
      }
    });

    it('serves the rebuilt copy after the switch, not the old copy cached in Redis, then caches again', async () => {
      const page = `/api/catalog?category=${tea}`;
      const doc = `/api/products/${oolong}`;

      // The catalog has applied every product, and nothing is cached yet.
      const head = await headPosition(t);
      await until('the catalog projection at the head', async () => {
        const s = await catalogStatus();
        return s.status === 'live' && s.position === head ? true : undefined;
      });
      expect(await entryKeys()).toEqual([]);

      // A bug corrupts the live copy: Oolong's price in its document (listing and detail page).
      const client = new pg.Client({ connectionString: t.shop.config.readDb });
      await client.connect();
      try {
        const updated = await client.query(
          'UPDATE rm_catalog_products SET price_cents = $1 WHERE id = $2',
          [CORRUPTED, oolong],
        );
        expect(updated.rowCount).toBe(1);
      } finally {
        await client.end();
      }

      // Read twice: the first from the read model, the second from Redis; both corrupted.
      const corruptedPage = m.page(tea);
      for (const item of corruptedPage.items) if (item.id === oolong) item.priceCents = CORRUPTED;
      const corruptedDoc = { ...m.detail(oolong), priceCents: CORRUPTED, recentReviews: [] };
      for (const [path, corrupted] of [
        [page, corruptedPage],
        [doc, corruptedDoc],
      ] as const) {
        const first = await t.read(path);
        expect(expectQuery(first)).toEqual(corrupted);
        expect(sourceOf(first)).toBe('read-model');
        const second = await t.read(path);
        expect(expectQuery(second)).toEqual(corrupted);
        expect(sourceOf(second)).toBe('cache');
      }
      // Redis holds exactly these two answers, with the corrupted price.
      expect(await entryKeys()).toEqual(
        [`${prefix}:entry:${pageKey(tea, 1)}`, `${prefix}:entry:${productKey(oolong)}`].sort(),
      );
      const stalePage = await entry(pageKey(tea, 1));
      expect(stalePage.value).toEqual(corruptedPage);
      expect((await entry(productKey(oolong))).value).toMatchObject({ priceCents: CORRUPTED });
      expect(await floor()).toBeLessThanOrEqual(stalePage.stamp);

      // Rebuild the catalog blue/green through the admin API; wait for the switch.
      expect((await catalogStatus()).generation).toBeUndefined();
      const r = await t.request('POST', '/api/admin/projections/catalog/rebuild', {
        token: t.adminToken,
      });
      expect({ status: r.status, body: r.body }).toEqual({
        status: 202,
        body: { name: 'catalog', status: 'rebuilding' },
      });
      await until('the catalog rebuilt and switched', async () => {
        const s = await catalogStatus();
        return s.rebuild?.phase === 'done' && s.generation === 1 ? true : undefined;
      });

      // The first reads after the switch answer the rebuilt copy: the true price, not the cached one.
      const expectedPage = m.page(tea);
      const expectedDoc = { ...m.detail(oolong), recentReviews: [] };
      expect(expectedPage.items.find((i) => i.id === oolong)?.priceCents).toBe(650);
      const fresh = await t.read(page);
      expect(expectQuery(fresh)).toEqual(expectedPage);
      expect(sourceOf(fresh)).toBe('read-model');
      const freshDoc = await t.read(doc);
      expect(expectQuery(freshDoc)).toEqual(expectedDoc);
      expect(sourceOf(freshDoc)).toBe('read-model');
      // The switch moved the floor past the old entries' stamps: Redis serves none of them.
      expect(await floor()).toBeGreaterThan(stalePage.stamp);

      // And the cache works on: reading again is answered from Redis, with the true figures. (The
      // admin route clears the cache once more when the whole rebuild has settled, after the old
      // copy's tables are dropped: that clear may cost one more miss, hence the polling.)
      for (const [path, expected] of [
        [page, expectedPage],
        [doc, expectedDoc],
      ] as const) {
        await until(`a cache hit on ${path}`, async () => {
          const again = await t.read(path);
          expect(expectQuery(again)).toEqual(expected);
          return sourceOf(again) === 'cache' ? true : undefined;
        });
      }
      // Redis holds the same two entries as before, now with the true price, stamped after the switch.
      expect(await entryKeys()).toEqual(
        [`${prefix}:entry:${pageKey(tea, 1)}`, `${prefix}:entry:${productKey(oolong)}`].sort(),
      );
      const freshPage = await entry(pageKey(tea, 1));
      expect(freshPage.value).toEqual(expectedPage);
      expect(freshPage.stamp).toBeGreaterThan(stalePage.stamp);
      expect((await entry(productKey(oolong))).value).toMatchObject({ priceCents: 650 });
      expect(t.recorded.every((x) => x.status < 500)).toBe(true);
    });
  },
);
