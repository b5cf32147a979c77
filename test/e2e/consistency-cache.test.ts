// End to end over real HTTP: read-your-writes with consistency tokens, stale answers and the
// write-DB fallback, and the catalog cache (read-model mode), in both read modes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shopProjections } from '../../src/shop/query-handlers.js';
import { MODES, type Reply, startShop, type TestShop } from './harness.js';
import {
  expectCommand,
  expectConsistencyHeaders,
  expectNoServerErrors,
  expectQuery,
  placeOrder,
  ShopModel,
} from './helpers.js';

const positionOf = (r: Reply) => BigInt(r.headers.get('x-read-model-position') ?? '-1');
const sourceOf = (r: Reply) => r.headers.get('x-read-source');

describe.each(MODES)('consistency tokens and cache (%s, %s)', (mode, stack) => {
  let t: TestShop;
  let m: ShopModel;
  let fruit: string;
  let apple: string;

  beforeAll(async () => {
    t = await startShop(mode, {}, stack);
    m = new ShopModel(t);
    fruit = await m.category('Fruit');
    apple = await m.product({ sku: 'APPLE', name: 'Apple', categoryId: fruit, priceCents: 100 });
    await m.product({ sku: 'PEAR', name: 'Pear', categoryId: fruit, priceCents: 120 });
    await m.stock(apple, 10);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('after a price change, the first read with the token shows the new price (header and ?after=)', async () => {
    for (let i = 1; i <= 5; i++) {
      // Read first (with the last token: on a networked store the projector may not have caught
      // up yet), so that a cache (read-model mode) holds the old value.
      expectQuery(await t.read(`/api/products/${apple}`));
      expectQuery(await t.read(`/api/catalog?category=${fruit}`));
      const price = 100 + i;
      const position = await m.price(apple, price);
      const token = BigInt(position);

      const doc = await t.request('GET', `/api/products/${apple}`, {
        headers: { 'X-Consistency-Token': position },
      });
      expect(expectQuery(doc)).toEqual({ ...m.detail(apple), recentReviews: [] });
      expect(doc.body.priceCents).toBe(price);
      expect(positionOf(doc)).toBeGreaterThanOrEqual(token);
      expect(doc.headers.get('x-read-model-stale')).toBeNull();
      expect(sourceOf(doc)).toBe(mode);

      const page = await t.request('GET', `/api/catalog?category=${fruit}&after=${position}`);
      expect(expectQuery(page)).toEqual(m.page(fruit));
      expect(page.body.items[0]).toMatchObject({ id: apple, priceCents: price });
      expect(positionOf(page)).toBeGreaterThanOrEqual(token);
      expect(page.headers.get('x-read-model-stale')).toBeNull();

      const all = await t.request('GET', '/api/catalog', {
        headers: { 'x-consistency-token': position },
      });
      expect(expectQuery(all)).toEqual(m.page(undefined));
      expect(positionOf(all)).toBeGreaterThanOrEqual(token);

      const found = await t.request('GET', `/api/search?q=apple&after=${position}`);
      expect(expectQuery(found).items).toEqual([m.item(apple)]);
      expect(positionOf(found)).toBeGreaterThanOrEqual(token);
    }
  });

  it('every command answers X-Consistency-Token = body.position; every query answers X-Read-Model-Position', async () => {
    const admin = t.adminToken;
    const replies: Reply[] = [];
    const command = async (r: Promise<Reply>, status: number) => {
      const reply = await r;
      expectCommand(reply, status);
      replies.push(reply);
      return reply.body;
    };
    const cat = await command(
      t.request('POST', '/api/categories', { body: { name: 'Herbs' }, token: admin }),
      201,
    );
    const basil = await command(
      t.request('POST', '/api/products', {
        body: { sku: 'BASIL', name: 'Basil', description: '', categoryId: cat.id, priceCents: 50 },
        token: admin,
      }),
      201,
    );
    await command(
      t.request('PUT', `/api/products/${basil.id}/price`, {
        body: { priceCents: 60 },
        token: admin,
      }),
      200,
    );
    await command(
      t.request('PATCH', `/api/products/${basil.id}`, {
        body: { name: 'Sweet Basil' },
        token: admin,
      }),
      200,
    );
    await command(
      t.request('PUT', `/api/products/${basil.id}/stock`, {
        body: { warehouse: 'main', quantity: 5 },
        token: admin,
      }),
      200,
    );
    const who = await command(
      t.request('POST', '/api/customers', { body: { email: 'herb@example.com', name: 'Herb' } }),
      201,
    );
    await command(
      t.request('POST', `/api/products/${basil.id}/reviews`, {
        body: { rating: 4, text: 'Fresh' },
        token: who.token,
      }),
      201,
    );
    const placed = await command(
      placeOrder(t, who.token, [{ productId: basil.id, quantity: 1 }], 'herbs'),
      201,
    );
    const cancelled = await command(
      t.request('POST', `/api/orders/${placed.orderId}/cancel`, { token: who.token }),
      200,
    );
    const positions = replies.map((r) => BigInt(r.body.position));
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
    expect(new Set(positions).size).toBe(positions.length);

    const last = cancelled.position as string;
    for (const [path, token] of [
      ['/api/categories', undefined],
      [`/api/catalog?category=${cat.id}`, undefined],
      ['/api/catalog?page=2', undefined],
      [`/api/products/${basil.id}`, undefined],
      ['/api/search?q=basil', undefined],
      [`/api/orders/${placed.orderId}`, who.token],
      ['/api/customers/me/orders', who.token],
      ['/api/admin/dashboard', admin],
      ['/api/admin/recently-updated', admin],
    ] as const) {
      const r = await t.request('GET', path, {
        ...(token ? { token } : {}),
        headers: { 'x-consistency-token': last },
      });
      expectQuery(r);
      expect(positionOf(r)).toBeGreaterThanOrEqual(BigInt(last));
      expect(r.headers.get('x-read-model-stale')).toBeNull();
    }
    const order = expectQuery(await t.read(`/api/orders/${placed.orderId}`, { token: who.token }));
    expect(order).toMatchObject({ status: 'cancelled', totalCents: 60 });
    // Even a query without a token says where it stands.
    const plain = await t.request('GET', '/api/categories');
    expect(expectQuery(plain).items.map((c: { name: string }) => c.name)).toEqual([
      'Fruit',
      'Herbs',
    ]);
  });

  it('cache (read-model mode): a repeated read is served from cache; a price change drops exactly the pages and documents that show the product', async () => {
    if (mode === 'write-db') {
      // write-db mode has no cache: every answer is computed on the write DB, always current.

      const path = `/api/catalog?category=${fruit}`;
      for (let i = 0; i < 3; i++) {
        const r = await t.request('GET', path);
        expect(sourceOf(r)).toBe('write-db');
        expect(r.body).toEqual(m.page(fruit));
      }
      await m.price(apple, 199);
      const r = await t.request('GET', path);
      expect(sourceOf(r)).toBe('write-db');
      expect(r.body.items[0]).toMatchObject({ id: apple, priceCents: 199 });
      expect(r.headers.get('x-read-model-position')).toBe(t.lastPosition);
      return;
    }
    const red = await m.category('Red');
    const green = await m.category('Green');
    const cherry = await m.product({
      sku: 'CHERRY',
      name: 'Cherry',
      categoryId: red,
      priceCents: 300,
    });
    const currant = await m.product({
      sku: 'CURRANT',
      name: 'Currant',
      categoryId: red,
      priceCents: 250,
    });
    const lime = await m.product({
      sku: 'LIME',
      name: 'Lime',
      categoryId: green,
      priceCents: 80,
    });
    await m.stock(lime, 4);
    // Every change so far is in the read model, so no invalidation is still on its way.
    expectQuery(await t.read('/api/categories'));

    const paths = {
      redPage: `/api/catalog?category=${red}`,
      greenPage: `/api/catalog?category=${green}`,
      allPage: '/api/catalog',
      cherryDoc: `/api/products/${cherry}`,
      currantDoc: `/api/products/${currant}`,
      limeDoc: `/api/products/${lime}`,
    };
    const first: Record<string, Reply> = {};
    for (const [name, path] of Object.entries(paths)) {
      const a = await t.request('GET', path);
      expect({ name, source: sourceOf(a) }).toEqual({ name, source: 'read-model' });
      const b = await t.request('GET', path);
      expect({ name, source: sourceOf(b) }).toEqual({ name, source: 'cache' });
      expect(b.body).toEqual(a.body);
      // A hit is sent as the bytes of its first serialization: the same JSON, the same type.
      expect(JSON.stringify(b.body)).toBe(JSON.stringify(a.body));
      expect(b.headers.get('content-type')).toBe(a.headers.get('content-type'));
      expect(b.headers.get('x-read-model-position')).toBe(a.headers.get('x-read-model-position'));
      first[name] = b;
    }
    expect(first['redPage']!.body).toEqual(m.page(red));
    expect(first['currantDoc']!.body.related).toEqual([m.item(cherry)]);

    const position = await m.price(cherry, 333);
    // Wait for the read model through a route that is never cached, then read without a token.
    const caughtUp = await t.request('GET', `/api/categories?after=${position}`);
    expect(positionOf(caughtUp)).toBeGreaterThanOrEqual(BigInt(position));
    expect(sourceOf(caughtUp)).toBe('read-model');

    const after: Record<string, Reply> = {};
    for (const [name, path] of Object.entries(paths)) after[name] = await t.request('GET', path);
    const sources = Object.fromEntries(
      Object.entries(after).map(([name, r]) => [name, sourceOf(r)]),
    );
    expect(sources).toEqual({
      redPage: 'read-model', // shows Cherry
      greenPage: 'cache',
      allPage: 'read-model', // shows Cherry
      cherryDoc: 'read-model',
      currantDoc: 'read-model', // shows Cherry among its related products
      limeDoc: 'cache',
    });
    expect(after['redPage']!.body).toEqual(m.page(red));
    expect(after['redPage']!.body.items[0]).toMatchObject({ id: cherry, priceCents: 333 });
    const allBefore = first['allPage']!.body;
    expect(after['allPage']!.body).toEqual({
      ...allBefore,
      items: allBefore.items.map((i: { id: string }) =>
        i.id === cherry ? { ...i, priceCents: 333 } : i,
      ),
    });
    expect(allBefore.items.map((i: { id: string }) => i.id)).toContain(cherry);
    expect(after['cherryDoc']!.body).toEqual({ ...m.detail(cherry), recentReviews: [] });
    expect(after['currantDoc']!.body.related).toEqual([m.item(cherry)]);
    for (const name of ['redPage', 'cherryDoc', 'currantDoc', 'allPage']) {
      expect(positionOf(after[name]!)).toBeGreaterThanOrEqual(BigInt(position));
    }
    for (const name of ['greenPage', 'limeDoc']) {
      expect(after[name]!.body).toEqual(first[name]!.body);
      expect(positionOf(after[name]!)).toBe(positionOf(first[name]!));
    }
    // Recomputed entries are cached again.
    expect(sourceOf(await t.request('GET', paths.redPage))).toBe('cache');
    expect(sourceOf(await t.request('GET', paths.cherryDoc))).toBe('cache');

    // A product's document lists the best rated others of its category: a new product there, or
    // a review that reorders them, drops the category's documents (not the other categories').
    const sourcesOfDocs = async () => ({
      currant: sourceOf(await t.request('GET', paths.currantDoc)),
      lime: sourceOf(await t.request('GET', paths.limeDoc)),
    });
    expect(await sourcesOfDocs()).toEqual({ currant: 'cache', lime: 'cache' });
    const cranberry = await m.product({
      sku: 'CRANBERRY',
      name: 'Cranberry',
      categoryId: red,
      priceCents: 400,
    });
    expectQuery(await t.read('/api/categories'));
    const withNew = await t.request('GET', paths.currantDoc);
    expect(sourceOf(withNew)).toBe('read-model');
    expect(withNew.body.related).toEqual(m.related(currant));
    expect(withNew.body.related.map((i: { name: string }) => i.name)).toEqual([
      'Cherry',
      'Cranberry',
    ]);
    expect(await sourcesOfDocs()).toEqual({ currant: 'cache', lime: 'cache' });
    const critic = await t.customer('Critic');
    expectCommand(
      await t.request('POST', `/api/products/${cranberry}/reviews`, {
        body: { rating: 5, text: 'Tart' },
        token: critic.token,
      }),
      201,
    );
    m.get(cranberry).ratings.push(5);
    expectQuery(await t.read('/api/categories'));
    const reordered = await t.request('GET', paths.currantDoc);
    expect(sourceOf(reordered)).toBe('read-model');
    expect(reordered.body.related.map((i: { name: string }) => i.name)).toEqual([
      'Cranberry',
      'Cherry',
    ]);
    expect(reordered.body).toEqual({ ...m.detail(currant), recentReviews: [] });
    expect(await sourcesOfDocs()).toEqual({ currant: 'cache', lime: 'cache' });

    // A token newer than the cached entry never gets it, even when nothing it shows changed.
    const cached = positionOf(after['greenPage']!);
    const newer = expectCommand(
      await t.request('POST', '/api/customers', {
        body: { email: 'cache@example.com', name: 'Cache' },
      }),
      201,
    ).position;
    expect(BigInt(newer)).toBeGreaterThan(cached);
    const fresh = await t.request('GET', paths.greenPage, {
      headers: { 'x-consistency-token': newer },
    });
    expect(sourceOf(fresh)).toBe('read-model');
    expect(positionOf(fresh)).toBeGreaterThanOrEqual(BigInt(newer));
    expect(fresh.body).toEqual(m.page(green));
    const again = await t.request('GET', paths.greenPage, {
      headers: { 'x-consistency-token': newer },
    });
    expect(sourceOf(again)).toBe('cache');
    expect(positionOf(again)).toBe(positionOf(fresh));
  });

  it('cache (read-model mode): search answers are cached; a listed product change or a change to what is indexed drops them', async () => {
    if (mode === 'write-db') return; // no cache: covered by the catalog test above
    let settles = 0;
    // Both projections a search reads (search, catalog) have the last write (a never-cached word).
    const settled = async () => expectQuery(await t.read(`/api/search?q=settle${++settles}`));
    const nuts = await m.category('Nuts');
    const almond = await m.product({
      sku: 'ALMOND',
      name: 'Almond',
      categoryId: nuts,
      priceCents: 500,
    });
    const walnut = await m.product({
      sku: 'WALNUT',
      name: 'Walnut',
      categoryId: nuts,
      priceCents: 600,
    });
    await settled();
    const search = (q: string) => t.request('GET', `/api/search?q=${q}`);
    expect(sourceOf(await search('almond'))).toBe('read-model');
    const hit = await search('almond');
    expect(sourceOf(hit)).toBe('cache');
    expect(expectQuery(hit).items).toEqual([m.item(almond)]);
    expect(sourceOf(await search('walnut'))).toBe('read-model');

    // A price change drops the answers that list the product, and only those.
    await m.price(almond, 550);
    await settled();
    const repriced = await search('almond');
    expect(sourceOf(repriced)).toBe('read-model');
    expect(expectQuery(repriced).items).toEqual([m.item(almond)]);
    expect(repriced.body.items[0].priceCents).toBe(550);
    expect(sourceOf(await search('walnut'))).toBe('cache');

    // A renamed or new product changes which products match: every search answer is dropped.
    await m.patch(walnut, { name: 'Almond walnut' });
    await settled();
    const renamed = await search('almond');
    expect(sourceOf(renamed)).toBe('read-model');
    expect(
      expectQuery(renamed)
        .items.map((i: { id: string }) => i.id)
        .sort(),
    ).toEqual([almond, walnut].sort());
    await m.product({ sku: 'PECAN', name: 'Pecan almond', categoryId: nuts, priceCents: 700 });
    await settled();
    const added = await search('almond');
    expect(sourceOf(added)).toBe('read-model');
    expect(expectQuery(added).total).toBe(3);
  });

  it('cache (read-model mode): a stock change that keeps a product available drops only its document; one that empties or refills it drops every listing', async () => {
    if (mode === 'write-db') return; // no cache
    const tea = await m.category('Tea');
    const sencha = await m.product({
      sku: 'SENCHA',
      name: 'Sencha',
      categoryId: tea,
      priceCents: 900,
    });
    const assam = await m.product({
      sku: 'ASSAM',
      name: 'Assam',
      categoryId: tea,
      priceCents: 700,
    });
    await m.stock(sencha, 3);
    await m.stock(assam, 5);
    const buyer = await t.customer('Tea lover');
    let settles = 0;
    // Every projection has the last write (a never-cached word: search and catalog caught up).
    const settled = async (position: string) => {
      expectQuery(await t.read(`/api/search?q=steep${++settles}&after=${position}`));
      expectQuery(await t.read(`/api/categories?after=${position}`));
    };
    const paths = {
      page: `/api/catalog?category=${tea}`,
      search: '/api/search?q=sencha',
      senchaDoc: `/api/products/${sencha}`,
      assamDoc: `/api/products/${assam}`, // lists Sencha among its related products
    };
    const sources = async () => {
      const out: Record<string, string | null> = {};
      for (const [name, path] of Object.entries(paths)) {
        const r = await t.request('GET', path);
        expectQuery(r);
        out[name] = sourceOf(r);
      }
      return out;
    };
    const check = async () => {
      expect(expectQuery(await t.request('GET', paths.page))).toEqual(m.page(tea));
      expect(expectQuery(await t.request('GET', paths.search)).items).toEqual([m.item(sencha)]);
      expect(expectQuery(await t.request('GET', paths.senchaDoc))).toEqual({
        ...m.detail(sencha),
        recentReviews: [],
      });
      expect(expectQuery(await t.request('GET', paths.assamDoc))).toEqual({
        ...m.detail(assam),
        recentReviews: [],
      });
    };
    const order = async (quantity: number) => {
      const r = await placeOrder(t, buyer.token, [{ productId: sencha, quantity }]);
      const position = expectCommand(r, 201).position;
      return { orderId: r.body.orderId, taken: m.take(sencha, quantity), position };
    };
    await settled(t.lastPosition);
    await sources();
    expect(await sources()).toEqual({
      page: 'cache',
      search: 'cache',
      senchaDoc: 'cache',
      assamDoc: 'cache',
    });

    // 3 → 2 units: every listing still says "available"; only Sencha's own document shows units.
    const first = await order(1);
    await settled(first.position);
    expect(await sources()).toEqual({
      page: 'cache',
      search: 'cache',
      senchaDoc: 'read-model',
      assamDoc: 'cache',
    });
    await check();
    expect(expectQuery(await t.request('GET', paths.senchaDoc)).stock).toBe(2);
    // A consistency token newer than the kept page is still answered fresh, from the read model.
    const fresh = await t.request('GET', `${paths.page}&after=${first.position}`);
    expect(sourceOf(fresh)).toBe('read-model');
    expect(positionOf(fresh)).toBeGreaterThanOrEqual(BigInt(first.position));
    expect(expectQuery(fresh)).toEqual(m.page(tea));

    // 2 → 0: sold out shows on every listing of Sencha.
    const second = await order(2);
    await settled(second.position);
    expect(await sources()).toEqual({
      page: 'read-model',
      search: 'read-model',
      senchaDoc: 'read-model',
      assamDoc: 'read-model',
    });
    await check();
    expect(m.item(sencha).stockAvailable).toBe(false);

    // 0 → 4 (a stock count): available again everywhere.
    await settled(await m.stock(sencha, 4));
    expect(await sources()).toEqual({
      page: 'read-model',
      search: 'read-model',
      senchaDoc: 'read-model',
      assamDoc: 'read-model',
    });
    await check();
    expect(m.item(sencha).stockAvailable).toBe(true);

    // 4 → 6 (a stock count) and a cancelled order giving units back: listings kept.
    await settled(await m.stock(sencha, 6));
    expect(await sources()).toMatchObject({
      page: 'cache',
      search: 'cache',
      senchaDoc: 'read-model',
    });
    const cancelled = await t.request('POST', `/api/orders/${second.orderId}/cancel`, {
      token: buyer.token,
    });
    m.release(sencha, second.taken);
    await settled(expectCommand(cancelled, 200).position);
    expect(await sources()).toMatchObject({
      page: 'cache',
      search: 'cache',
      senchaDoc: 'read-model',
    });
    await check();
    expect(expectQuery(await t.request('GET', paths.senchaDoc)).stock).toBe(8);

    // A price change is shown by every listing.
    await settled(await m.price(sencha, 950));
    expect(await sources()).toEqual({
      page: 'read-model',
      search: 'read-model',
      senchaDoc: 'read-model',
      assamDoc: 'read-model',
    });
    await check();
  });

  it('a read model that cannot reach the token answers X-Read-Model-Stale: true; ?fallback=write-db answers fresh', async () => {
    const doc = `/api/products/${apple}`;
    const page = `/api/catalog?category=${fruit}`;
    const before = await t.read(doc);
    const oldPrice = m.get(apple).priceCents;
    expect(before.body.priceCents).toBe(oldPrice);
    expectQuery(await t.read(page));
    // Cache the current page and document (read-model mode), so that a cached entry exists.
    await t.request('GET', doc);
    await t.request('GET', page);

    const projector = t.shop.projector;
    if (mode === 'read-model') {
      expect(projector).toBeDefined();
      await projector!.stop();
    } else {
      expect(projector).toBeUndefined();
    }
    try {
      if (mode === 'read-model') {
        const health = await t.request('GET', '/health');
        expect(health.body.projections.map((p: { status: string }) => p.status)).toEqual(
          shopProjections().map(() => 'stopped'),
        );
      }
      const position = await m.price(apple, oldPrice + 50);
      const token = BigInt(position);
      for (const path of [doc, page]) {
        const join = path.includes('?') ? '&' : '?';
        const quick = await t.request('GET', `${path}${join}wait=0`, {
          headers: { 'x-consistency-token': position },
        });
        expectQuery(quick);
        const fallback = await t.request(
          'GET',
          `${path}${join}after=${position}&wait=0&fallback=write-db`,
        );
        expectQuery(fallback);
        const shown = (r: Reply) => (r.body.items ? r.body.items[0].priceCents : r.body.priceCents);
        if (mode === 'read-model') {
          // Honest: the old value, from the read model (never the older cached entry), marked stale.
          expect(quick.headers.get('x-read-model-stale')).toBe('true');
          expect(sourceOf(quick)).toBe('read-model');
          expect(shown(quick)).toBe(oldPrice);
          expect(positionOf(quick)).toBeLessThan(token);
        } else {
          expect(quick.headers.get('x-read-model-stale')).toBeNull();
          expect(sourceOf(quick)).toBe('write-db');
          expect(shown(quick)).toBe(oldPrice + 50);
          expect(positionOf(quick)).toBeGreaterThanOrEqual(token);
        }
        // The fallback answers the fresh value from the write DB, not stale.
        expect(fallback.headers.get('x-read-model-stale')).toBeNull();
        expect(sourceOf(fallback)).toBe('write-db');
        expect(shown(fallback)).toBe(oldPrice + 50);
        expect(positionOf(fallback)).toBeGreaterThanOrEqual(token);
        expect(fallback.body).toEqual(
          path === doc ? { ...m.detail(apple), recentReviews: [] } : m.page(fruit),
        );
      }
      // A token past the head, with a short wait: stale in read-model mode only.
      const future = (token + 1000n).toString();
      const ahead = await t.request('GET', `${page}&after=${future}&wait=20`);
      expectQuery(ahead);
      expect(ahead.headers.get('x-read-model-stale')).toBe(mode === 'read-model' ? 'true' : null);
    } finally {
      if (mode === 'read-model') await projector!.start();
    }
    // Running again, the read model catches up and the token is honoured.
    const position = t.lastPosition;
    const fresh = await t.request('GET', `${doc}?after=${position}`);
    expect(expectQuery(fresh)).toEqual({ ...m.detail(apple), recentReviews: [] });
    expect(fresh.headers.get('x-read-model-stale')).toBeNull();
    expect(sourceOf(fresh)).toBe(mode);
    expect(positionOf(fresh)).toBeGreaterThanOrEqual(BigInt(position));
    const freshPage = await t.request('GET', page, {
      headers: { 'x-consistency-token': position },
    });
    expect(freshPage.body).toEqual(m.page(fruit));
    expect(freshPage.headers.get('x-read-model-stale')).toBeNull();
  });

  it('answered no 5xx and no stack trace; every command and query carried its position header', () => {
    expectNoServerErrors(t);
    expectConsistencyHeaders(t);
  });
});
