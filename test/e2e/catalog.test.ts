// End to end over real HTTP: every catalog, admin and system route, in both read modes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shopProjections } from '../../src/shop/query-handlers.js';
import { MODES, startShop, type TestShop } from './harness.js';
import {
  DECIMAL,
  expectCommand,
  expectConsistencyHeaders,
  expectError,
  expectNoServerErrors,
  expectQuery,
  headPosition,
  nextMillisecond,
  PAGE_SIZE,
  placeOrder,
  ShopModel,
  until,
} from './helpers.js';

describe.each(MODES)('catalog, admin and system routes (%s, %s)', (mode, stack) => {
  let t: TestShop;
  let m: ShopModel;
  let tea: string;
  let coffee: string;
  let bulk: string;
  const teas: Record<string, string> = {};
  let espresso: string;
  let zest: string;
  const bulkIds: string[] = [];

  beforeAll(async () => {
    t = await startShop(mode, {}, stack);
    m = new ShopModel(t);
    bulk = await m.category('Bulk');
    tea = await m.category('Tea');
    coffee = await m.category('Coffee');
    for (let i = 1; i <= 30; i++) {
      const nn = String(i).padStart(2, '0');
      bulkIds.push(
        await m.product({
          sku: `BULK-${nn}`,
          name: `Bulk item ${nn}`,
          description: 'bulk zest filler',
          categoryId: bulk,
          priceCents: 100 + i,
        }),
      );
    }
    const teaSpecs: [string, number, string][] = [
      ['Green', 500, 'Steamed leaves, grassy and sweet'],
      ['Black', 400, 'Malty breakfast leaves'],
      ['Jasmine', 450, 'Scented with blossoms'],
      ['Oolong', 650, 'Half oxidised'],
      ['White', 900, 'Silver needles'],
      ['Yellow', 800, 'Rare and mellow'],
    ];
    for (const [name, priceCents, description] of teaSpecs) {
      teas[name] = await m.product({
        sku: `TEA-${name.toUpperCase()}`,
        name: `${name} Tea`,
        description,
        categoryId: tea,
        priceCents,
        maxAllowedPriceCents: 1000,
        thumbnailUrl: `https://img.example/${name.toLowerCase()}.png`,
      });
    }
    espresso = await m.product({
      sku: 'COF-ESP',
      name: 'Espresso Beans',
      description: 'Dark roast',
      categoryId: coffee,
      priceCents: 1500,
    });
    zest = await m.product({
      sku: 'COF-ZEST',
      name: 'Zest Supreme',
      description: 'Citrus roast',
      categoryId: coffee,
      priceCents: 1999,
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('POST /api/categories answers 201 {id, position}; GET /api/categories counts active products', async () => {
    const before = await headPosition(t);
    const r = await t.request('POST', '/api/categories', {
      body: { name: 'Zz Empty' },
      token: t.adminToken,
    });
    const body = expectCommand<{ id: string }>(r, 201);
    expect(Object.keys(body).sort()).toEqual(['id', 'position']);
    expect(body.id).toMatch(/^[A-Za-z0-9_-]{1,100}$/);
    expect(BigInt(body.position)).toBe(BigInt(before) + 1n);
    m.categories.set(body.id, 'Zz Empty');

    const list = await t.read('/api/categories');
    expect(expectQuery(list)).toEqual({
      items: [
        { id: bulk, name: 'Bulk', productCount: 30 },
        { id: coffee, name: 'Coffee', productCount: 2 },
        { id: tea, name: 'Tea', productCount: 6 },
        { id: body.id, name: 'Zz Empty', productCount: 0 },
      ],
    });
  });

  it('POST /api/products answers 201 {id, position}; GET /api/products/:id shows the document', async () => {
    const r = await t.request('POST', '/api/products', {
      token: t.adminToken,
      body: {
        sku: 'COF-MOKA',
        name: 'Moka Pot Blend',
        description: 'For the stove top',
        categoryId: coffee,
        priceCents: 1250,
        maxAllowedPriceCents: 2000,
        thumbnailUrl: 'https://img.example/moka.png',
      },
    });
    const body = expectCommand<{ id: string }>(r, 201);
    expect(Object.keys(body).sort()).toEqual(['id', 'position']);
    m.products.set(body.id, {
      id: body.id,
      sku: 'COF-MOKA',
      name: 'Moka Pot Blend',
      description: 'For the stove top',
      categoryId: coffee,
      priceCents: 1250,
      thumbnailUrl: 'https://img.example/moka.png',
      active: true,
      stock: new Map(),
      ratings: [],
      sold: 0,
    });
    const detail = await t.read(`/api/products/${body.id}`);
    expect(expectQuery(detail)).toEqual({
      ...m.detail(body.id),
      recentReviews: [],
    });
    expect(detail.body).toMatchObject({
      name: 'Moka Pot Blend',
      priceCents: 1250,
      stock: 0,
      stockAvailable: false,
      categoryName: 'Coffee',
      active: true,
      related: [m.item(espresso), m.item(zest)],
    });
  });

  it('GET /api/catalog pages 24 at a time, by name, with the total; past the end is empty', async () => {
    const p1 = expectQuery(await t.read(`/api/catalog?category=${bulk}`));
    expect(p1).toEqual(m.page(bulk, 1));
    expect(p1.items).toHaveLength(PAGE_SIZE);
    expect(p1.items[0]).toEqual({
      id: bulkIds[0],
      name: 'Bulk item 01',
      priceCents: 101,
      stockAvailable: false,
      avgRating: null,
      reviewCount: 0,
      categoryName: 'Bulk',
      thumbnailUrl: null,
    });
    const p2 = expectQuery(await t.read(`/api/catalog?category=${bulk}&page=2`));
    expect(p2).toEqual(m.page(bulk, 2));
    expect(p2).toMatchObject({ page: 2, pageSize: 24, total: 30 });
    expect(p2.items.map((i: { name: string }) => i.name)).toEqual([
      'Bulk item 25',
      'Bulk item 26',
      'Bulk item 27',
      'Bulk item 28',
      'Bulk item 29',
      'Bulk item 30',
    ]);
    expect(expectQuery(await t.read(`/api/catalog?category=${bulk}&page=3`))).toEqual({
      items: [],
      page: 3,
      pageSize: 24,
      total: 30,
    });

    // The whole catalog, no category: 30 + 6 + 3 products.
    const all1 = expectQuery(await t.read('/api/catalog'));
    expect(all1).toEqual(m.page(undefined, 1));
    expect(all1.total).toBe(39);
    const all2 = expectQuery(await t.read('/api/catalog?page=2'));
    expect(all2).toEqual(m.page(undefined, 2));
    expect(all2.items).toHaveLength(15);
  });

  it('PUT /api/products/:id/price answers 200 {position}; the price shows in the listing, the document and search', async () => {
    const r = await t.request('PUT', `/api/products/${teas['Oolong']}/price`, {
      body: { priceCents: 700 },
      token: t.adminToken,
    });
    expect(Object.keys(expectCommand(r, 200))).toEqual(['position']);
    m.get(teas['Oolong']!).priceCents = 700;
    const page = expectQuery(await t.read(`/api/catalog?category=${tea}`));
    expect(page).toEqual(m.page(tea));
    expect(page.items.find((i: { id: string }) => i.id === teas['Oolong'])?.priceCents).toBe(700);
    const detail = expectQuery(await t.read(`/api/products/${teas['Oolong']}`));
    expect(detail.priceCents).toBe(700);
    const search = expectQuery(await t.read('/api/search?q=oolong'));
    expect(search).toEqual({ items: [m.item(teas['Oolong']!)], page: 1, pageSize: 24, total: 1 });
    // The same price again changes nothing (no event), and still answers the head position.
    const again = await t.request('PUT', `/api/products/${teas['Oolong']}/price`, {
      body: { priceCents: 700 },
      token: t.adminToken,
    });
    expect(expectCommand(again, 200).position).toBe(await headPosition(t));
  });

  it('PUT /api/products/:id/stock sums warehouses; no stock means stockAvailable false', async () => {
    const green = teas['Green']!;
    await m.stock(green, 7, 'north');
    await m.stock(green, 5, 'south');
    let detail = expectQuery(await t.read(`/api/products/${green}`));
    expect(detail).toMatchObject({ stock: 12, stockAvailable: true });
    await m.stock(green, 0, 'north');
    detail = expectQuery(await t.read(`/api/products/${green}`));
    expect(detail).toMatchObject({ stock: 5, stockAvailable: true });
    await m.stock(green, 0, 'south');
    detail = expectQuery(await t.read(`/api/products/${green}`));
    expect(detail).toMatchObject({ stock: 0, stockAvailable: false });
    await m.stock(green, 40, 'north');
    expect(expectQuery(await t.read(`/api/products/${green}`))).toEqual({
      ...m.detail(green),
      recentReviews: [],
    });
    expect(expectQuery(await t.read(`/api/catalog?category=${tea}`))).toEqual(m.page(tea));
  });

  it('POST /api/products/:id/reviews answers 201 {id, position}; the document shows histogram, average and the 5 newest', async () => {
    const green = teas['Green']!;
    const ratings = [5, 4, 5, 1, 3, 5];
    const reviews: { id: string; rating: number; text: string; authorName: string }[] = [];
    for (const [i, rating] of ratings.entries()) {
      const who = await t.customer(`Reviewer ${i + 1}`);
      await nextMillisecond();
      const r = await t.request('POST', `/api/products/${green}/reviews`, {
        body: { rating, text: `Review number ${i + 1}` },
        token: who.token,
      });
      const body = expectCommand<{ id: string }>(r, 201);
      expect(Object.keys(body).sort()).toEqual(['id', 'position']);
      reviews.push({
        id: body.id,
        rating,
        text: `Review number ${i + 1}`,
        authorName: `Reviewer ${i + 1}`,
      });
      m.get(green).ratings.push(rating);
    }
    // Black Tea gets the best mean of the category: first among Green Tea's related products.
    const fan = await t.customer('Fan');
    expectCommand(
      await t.request('POST', `/api/products/${teas['Black']}/reviews`, {
        body: { rating: 5, text: '' },
        token: fan.token,
      }),
      201,
    );
    m.get(teas['Black']!).ratings.push(5);

    const detail = expectQuery(await t.read(`/api/products/${green}`));
    const { recentReviews, ...rest } = detail;
    expect(rest).toEqual(m.detail(green));
    expect(rest).toMatchObject({
      avgRating: 3.83,
      reviewCount: 6,
      ratingHistogram: { '1': 1, '2': 0, '3': 1, '4': 1, '5': 3 },
    });
    expect(recentReviews.map(({ createdAt: _, ...r }: { createdAt: string }) => r)).toEqual(
      reviews.slice(1).reverse(),
    );
    const times = recentReviews.map((r: { createdAt: string }) => Date.parse(r.createdAt));
    expect(
      recentReviews.map((r: { createdAt: string }) =>
        new Date(Date.parse(r.createdAt)).toISOString(),
      ),
    ).toEqual(recentReviews.map((r: { createdAt: string }) => r.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // Related: the 4 other active teas, best rated first, then by name (Yellow Tea is 5th).
    expect(detail.related.map((r: { name: string }) => r.name)).toEqual([
      'Black Tea',
      'Jasmine Tea',
      'Oolong Tea',
      'White Tea',
    ]);
    expect(detail.related[0]).toMatchObject({ avgRating: 5, reviewCount: 1 });
    // The listing follows the review figures too.
    expect(expectQuery(await t.read(`/api/catalog?category=${tea}`))).toEqual(m.page(tea));
  });

  it('racing products with one SKU: one is added, the others are SKU_TAKEN', async () => {
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.request('POST', '/api/products', {
          body: {
            sku: 'RACE-1',
            name: `Racer ${i}`,
            description: '',
            categoryId: bulk,
            priceCents: 1,
          },
          token: t.adminToken,
        }),
      ),
    );
    const added = replies.filter((r) => r.status === 201);
    expect(added).toHaveLength(1);
    for (const r of replies.filter((x) => x.status !== 201)) {
      expectError(r, 409, 'SKU_TAKEN', { sku: 'RACE-1' });
    }
    const id = expectCommand<{ id: string }>(added[0]!, 201).id;
    // Take it out of the listings again, so the other tests' figures stay as they are.
    const r = await t.request('PATCH', `/api/products/${id}`, {
      body: { active: false },
      token: t.adminToken,
    });
    expectCommand(r, 200);
    expect(expectQuery(await t.read(`/api/catalog?category=${bulk}`)).total).toBe(30);
  });

  it('PATCH /api/products/:id changes details; active false hides the product, active true brings it back', async () => {
    const kit = await m.category('Kit');
    const other = await m.category('Kit Spares');
    const alpha = await m.product({
      sku: 'KIT-A',
      name: 'Alpha',
      categoryId: kit,
      priceCents: 100,
    });
    const beta = await m.product({ sku: 'KIT-B', name: 'Beta', categoryId: kit, priceCents: 200 });
    const count = async () =>
      (expectQuery(await t.read('/api/categories')).items as { id: string; productCount: number }[])
        .filter((c) => c.id === kit || c.id === other)
        .map((c) => c.productCount);

    const r = await t.request('PATCH', `/api/products/${alpha}`, {
      body: {
        name: 'Alpha Prime',
        description: 'Renamed and described',
        thumbnailUrl: 'https://img.example/alpha.png',
      },
      token: t.adminToken,
    });
    expect(Object.keys(expectCommand(r, 200))).toEqual(['position']);
    Object.assign(m.get(alpha), {
      name: 'Alpha Prime',
      description: 'Renamed and described',
      thumbnailUrl: 'https://img.example/alpha.png',
    });
    expect(expectQuery(await t.read(`/api/products/${alpha}`))).toEqual({
      ...m.detail(alpha),
      recentReviews: [],
    });
    expect(expectQuery(await t.read(`/api/search?q=described`)).items).toEqual([m.item(alpha)]);

    await m.patch(alpha, { active: false });
    expect(await count()).toEqual([1, 0]);
    expect(expectQuery(await t.read(`/api/catalog?category=${kit}`))).toEqual({
      items: [m.item(beta)],
      page: 1,
      pageSize: 24,
      total: 1,
    });
    // Still found by id, marked inactive; gone from search and from Beta's related products.
    expect(expectQuery(await t.read(`/api/products/${alpha}`))).toMatchObject({
      id: alpha,
      active: false,
    });
    expect(expectQuery(await t.read('/api/search?q=alpha'))).toEqual({
      items: [],
      page: 1,
      pageSize: 24,
      total: 0,
    });
    expect(expectQuery(await t.read(`/api/products/${beta}`)).related).toEqual([]);

    await m.patch(alpha, { active: true });
    expect(await count()).toEqual([2, 0]);
    expect(expectQuery(await t.read(`/api/catalog?category=${kit}`))).toEqual(m.page(kit));
    expect(expectQuery(await t.read('/api/search?q=alpha')).items).toEqual([m.item(alpha)]);

    // Moving it to another category moves it between listings and counts.
    await m.patch(alpha, { categoryId: other });
    expect(await count()).toEqual([1, 1]);
    expect(expectQuery(await t.read(`/api/catalog?category=${other}`))).toEqual(m.page(other));
    expect(expectQuery(await t.read(`/api/catalog?category=${kit}`))).toEqual(m.page(kit));
    expect(expectQuery(await t.read(`/api/products/${alpha}`))).toMatchObject({
      categoryId: other,
      categoryName: 'Kit Spares',
    });
    await m.patch(alpha, { thumbnailUrl: null });
    expect(expectQuery(await t.read(`/api/products/${alpha}`)).thumbnailUrl).toBeNull();
  });

  it('GET /api/search ranks name matches first and pages 24 at a time', async () => {
    // "zest": Zest Supreme by name; the 30 bulk items by description.
    const p1 = expectQuery(await t.read('/api/search?q=zest'));
    expect(p1).toMatchObject({ page: 1, pageSize: 24, total: 31 });
    expect(p1.items).toHaveLength(24);
    expect(p1.items[0]).toEqual(m.item(zest));
    const p2 = expectQuery(await t.read('/api/search?q=zest&page=2'));
    expect(p2).toMatchObject({ page: 2, pageSize: 24, total: 31 });
    expect(p2.items).toHaveLength(7);
    const ids = [...p1.items, ...p2.items].map((i: { id: string }) => i.id);
    expect(new Set(ids).size).toBe(31);
    expect([...ids].sort()).toEqual([zest, ...bulkIds].sort());
    for (const item of [...p1.items, ...p2.items]) expect(item).toEqual(m.item(item.id));
    // Prefix of the last word, several words (all required), category name, nothing found.
    expect(expectQuery(await t.read('/api/search?q=esp')).items).toEqual([m.item(espresso)]);
    expect(expectQuery(await t.read('/api/search?q=dark%20esp')).items).toEqual([m.item(espresso)]);
    expect(expectQuery(await t.read('/api/search?q=roast%20nothing')).total).toBe(0);
    expect(expectQuery(await t.read('/api/search?q=zzzz')).items).toEqual([]);
    // Accents are ignored both ways.
    const the = await m.product({
      sku: 'TEA-THE',
      name: 'Thé Vert Sencha',
      description: 'Première récolte',
      categoryId: tea,
      priceCents: 700,
    });
    expect(expectQuery(await t.read('/api/search?q=the%20vert')).items).toEqual([m.item(the)]);
    expect(expectQuery(await t.read('/api/search?q=premiere')).items).toEqual([m.item(the)]);
    expect(expectQuery(await t.read(`/api/search?q=${encodeURIComponent('récolte')}`)).total).toBe(
      1,
    );
    // FTS syntax is only text.
    expect(expectQuery(await t.read('/api/search?q=%22')).total).toBe(0);
    expect(expectQuery(await t.read('/api/search?q=(zest*')).total).toBe(31);
    expect(expectQuery(await t.read('/api/search?q=zest%20OR%20black')).total).toBe(0);
  });

  it('GET /api/admin/recently-updated lists the 20 latest changes, newest first', async () => {
    const changed = [teas['White']!, espresso, teas['Jasmine']!];
    await nextMillisecond();
    await m.price(changed[0]!, 901);
    await nextMillisecond();
    await m.stock(changed[1]!, 3);
    await nextMillisecond();
    await m.patch(changed[2]!, { description: 'Scented with jasmine blossoms' });
    const r = expectQuery(await t.read('/api/admin/recently-updated', { token: t.adminToken }));
    expect(r.items).toHaveLength(20);
    expect(r.items.slice(0, 3).map((i: { id: string }) => i.id)).toEqual([...changed].reverse());
    expect(r.items[0]).toEqual({
      id: teas['Jasmine'],
      name: 'Jasmine Tea',
      priceCents: 450,
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(r.items[2]).toMatchObject({ id: teas['White'], priceCents: 901 });
    const times = r.items.map((i: { updatedAt: string }) => Date.parse(i.updatedAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('GET /api/admin/dashboard answers its figures', async () => {
    const r = expectQuery(await t.read('/api/admin/dashboard', { token: t.adminToken }));
    // No order in this shop; low stock: active products with at most 10 units, fewest first.
    const low = m
      .listed()
      .filter((p) => m.stockOf(p.id) <= 10)
      .sort((a, b) => m.stockOf(a.id) - m.stockOf(b.id) || (a.name < b.name ? -1 : 1))
      .slice(0, 20)
      .map((p) => ({ id: p.id, name: p.name, stock: m.stockOf(p.id) }));
    expect(r).toEqual({
      ordersToday: 0,
      revenueTodayCents: 0,
      lowStock: low,
      topSellers: [],
      recentOrders: [],
      abandonedCarts: 0,
    });
    expect(r.lowStock).toHaveLength(20);
  });

  it('GET /api/admin/projections answers each projection with position, head, lag and status', async () => {
    const head = await headPosition(t);
    if (mode === 'write-db') {
      const r = await t.request('GET', '/api/admin/projections', { token: t.adminToken });
      expect({ status: r.status, body: r.body }).toEqual({ status: 200, body: [] });
      return;
    }
    const live = await until('every projection live at the head', async () => {
      const r = await t.request('GET', '/api/admin/projections', { token: t.adminToken });
      expect(r.status).toBe(200);
      return (r.body as { status: string; lag: string }[]).every(
        (p) => p.status === 'live' && p.lag === '0',
      )
        ? r.body
        : undefined;
    });
    expect(live).toEqual(
      shopProjections().map(({ name, version }) => ({
        name,
        version,
        position: head,
        headPosition: head,
        lag: '0',
        status: 'live',
      })),
    );
  });

  it('POST /api/admin/projections/:name/rebuild answers 202 and the rebuilt read model answers as before', async () => {
    if (mode === 'write-db') {
      // No projection runs in write-db mode.
      const r = await t.request('POST', '/api/admin/projections/catalog/rebuild', {
        token: t.adminToken,
      });
      expectError(r, 404, 'NOT_FOUND', { name: 'catalog' });
      return;
    }
    // An order, so the orders read model has something to rebuild.
    const buyer = await t.customer('Rebuild buyer');
    const order = await placeOrder(t, buyer.token, [{ productId: teas['Green']!, quantity: 2 }]);
    const { orderId } = expectCommand<{ orderId: string }>(order, 201);
    const paths = [
      '/api/categories',
      '/api/catalog',
      '/api/catalog?page=2',
      `/api/catalog?category=${tea}`,
      `/api/products/${teas['Green']}`,
      `/api/products/${teas['Black']}`,
      '/api/search?q=zest',
      '/api/search?q=zest&page=2',
      '/api/search?q=tea',
      '/api/admin/recently-updated',
      '/api/admin/dashboard',
    ];
    const snapshot = async () => {
      const answers: Record<string, unknown> = {};
      for (const p of paths) answers[p] = expectQuery(await t.read(p, { token: t.adminToken }));
      answers['order'] = expectQuery(
        await t.read(`/api/orders/${orderId}`, { token: buyer.token }),
      );
      answers['mine'] = expectQuery(
        await t.read('/api/customers/me/orders', { token: buyer.token }),
      );
      return answers;
    };
    const before = await snapshot();
    expect(before['order']).toMatchObject({ orderId, status: 'placed', totalCents: 1000 });

    const projector = t.shop.projector!;
    const names = shopProjections().map((p) => p.name);
    const head = BigInt(await headPosition(t));
    for (const name of names) {
      const r = await t.request('POST', `/api/admin/projections/${name}/rebuild`, {
        token: t.adminToken,
      });
      expect({ status: r.status, body: r.body }).toEqual({
        status: 202,
        body: { name, status: 'rebuilding' },
      });
    }
    // Blue/green on both stacks: each one switched to a new copy (generation 1) built from 0.
    await until('the rebuilt projections to reach the head again', async () => {
      const statuses = await projector.status();
      return statuses.every(
        (s) => s.rebuild?.phase === 'done' && s.generation === 1 && s.position >= head,
      )
        ? true
        : undefined;
    });
    expect(await snapshot()).toEqual(before);
    const unknown = await t.request('POST', '/api/admin/projections/nope/rebuild', {
      token: t.adminToken,
    });
    expectError(unknown, 404, 'NOT_FOUND', { name: 'nope' });
  });

  it('GET /health answers the read mode and the projections', async () => {
    if (mode === 'write-db') {
      const r = await t.request('GET', '/health');
      expect({ status: r.status, body: r.body }).toEqual({
        status: 200,
        body: { status: 'ok', readMode: 'write-db', projections: [] },
      });
      return;
    }
    const body = await until('a healthy, caught-up shop', async () => {
      const r = await t.request('GET', '/health');
      expect(r.status).toBe(200);
      return r.body.projections.every((p: { lag: string }) => p.lag === '0') ? r.body : undefined;
    });
    expect(body).toEqual({
      status: 'ok',
      readMode: 'read-model',
      projections: shopProjections()
        .map((p) => p.name)
        .map((name) => ({
          name,
          status: 'live',
          lag: '0',
        })),
    });
  });

  it('GET /metrics answers Prometheus text: command latency, projection lag and cache hits', async () => {
    const metrics = async () => {
      const r = await t.request('GET', '/metrics');
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      return r.body as string;
    };
    const sample = (text: string, series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    // A refused command is counted with its code.
    const dup = await t.request('POST', '/api/products', {
      token: t.adminToken,
      body: { sku: 'BULK-01', name: 'Dup', description: '', categoryId: bulk, priceCents: 1 },
    });
    expectError(dup, 409, 'SKU_TAKEN', { sku: 'BULK-01' });
    const skuTaken = t.recorded.filter(
      (r) => r.path === '/api/products' && r.status === 409 && r.text.includes('"SKU_TAKEN"'),
    ).length;
    expect(skuTaken).toBe(8);
    const categoriesMade = t.recorded.filter(
      (r) => r.method === 'POST' && r.path === '/api/categories' && r.status === 201,
    ).length;

    const before = await metrics();
    expect(before).toContain('# TYPE tworooms_command_duration_seconds histogram');
    expect(
      sample(
        before,
        'tworooms_command_duration_seconds_count{type="CreateCategory",outcome="ok",code=""}',
      ),
    ).toBe(categoriesMade);
    expect(
      sample(
        before,
        'tworooms_command_duration_seconds_count{type="AddProduct",outcome="error",code="SKU_TAKEN"}',
      ),
    ).toBe(skuTaken);
    expect(before).toContain('# TYPE tworooms_http_request_duration_seconds histogram');

    // A page nobody has read yet, read twice.
    const path = `/api/catalog?category=${bulk}&page=4`;
    await t.read(path);
    await t.read(path);
    const after = await metrics();
    if (mode === 'read-model') {
      for (const name of shopProjections().map((p) => p.name)) {
        expect(sample(after, `tworooms_projection_lag_events{projection="${name}"}`)).toBe(0);
      }
      const hits = (s: string) => sample(s, 'tworooms_cache_hits_total') ?? -1;
      const misses = (s: string) => sample(s, 'tworooms_cache_misses_total') ?? -1;
      expect(hits(after) - hits(before)).toBe(1);
      expect(misses(after) - misses(before)).toBe(1);
    } else {
      expect(after).not.toMatch(/^tworooms_projection_lag_events\{/m);
      expect(after).not.toContain('tworooms_cache_hits_total');
    }
  });

  it('GET /openapi.json is an OpenAPI 3 document with every route; /docs serves the UI', async () => {
    const r = await t.request('GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = r.body;
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    // Routes anyone may call are marked open; the others inherit the global bearer requirement.
    expect(doc.security).toEqual([{ bearer: [] }]);
    const open = Object.entries(
      doc.paths as Record<string, Record<string, { security?: unknown[] }>>,
    )
      .flatMap(([path, item]) =>
        Object.entries(item)
          .filter(([, op]) => Array.isArray(op.security) && op.security.length === 0)
          .map(([method]) => `${method.toUpperCase()} ${path}`),
      )
      .sort();
    expect(open).toEqual(
      [
        'GET /api/catalog',
        'GET /api/categories',
        'GET /api/products/{id}',
        'GET /api/search',
        'GET /health',
        'GET /metrics',
        'POST /api/customers',
      ].sort(),
    );
    const operations: string[] = [];
    const problems: string[] = [];
    const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
    interface Operation {
      responses?: Record<string, { description?: unknown }>;
      parameters?: { in: string; name: string; required?: boolean; schema?: unknown }[];
      requestBody?: { content?: Record<string, { schema?: unknown }> };
    }
    for (const [path, item] of Object.entries(
      doc.paths as Record<string, Record<string, Operation>>,
    )) {
      if (!path.startsWith('/') || path.includes(':')) problems.push(`bad path ${path}`);
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((x) => x[1]);
      for (const [method, op] of Object.entries(item)) {
        if (!methods.includes(method)) continue;
        operations.push(`${method.toUpperCase()} ${path}`);
        const responses = Object.entries(op.responses ?? {});
        if (responses.length === 0) problems.push(`${method} ${path}: no responses`);
        for (const [code, res] of responses) {
          if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(code)) problems.push(`${path}: code ${code}`);
          if (typeof res.description !== 'string') problems.push(`${path} ${code}: no description`);
        }
        const params = op.parameters ?? [];
        for (const p of params) {
          if (!['query', 'header', 'path', 'cookie'].includes(p.in) || !p.name || !p.schema)
            problems.push(`${method} ${path}: bad parameter ${JSON.stringify(p)}`);
        }
        for (const name of templated) {
          const p = params.find((x) => x.in === 'path' && x.name === name);
          if (p?.required !== true) problems.push(`${method} ${path}: path parameter ${name}`);
        }
        if (op.requestBody && !op.requestBody.content?.['application/json']?.schema)
          problems.push(`${method} ${path}: request body without a JSON schema`);
      }
    }
    expect(problems).toEqual([]);
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /api/categories',
        'GET /api/categories',
        'POST /api/products',
        'PUT /api/products/{id}/price',
        'PATCH /api/products/{id}',
        'PUT /api/products/{id}/stock',
        'POST /api/products/{id}/reviews',
        'POST /api/customers',
        'POST /api/orders',
        'POST /api/orders/{id}/cancel',
        'GET /api/orders/{id}',
        'GET /api/customers/me/orders',
        'GET /api/catalog',
        'GET /api/products/{id}',
        'GET /api/search',
        'GET /api/admin/dashboard',
        'GET /api/admin/recently-updated',
        'GET /api/admin/projections',
        'POST /api/admin/projections/{name}/rebuild',
        'GET /health',
        'GET /metrics',
      ]),
    );
    // The order route documents its required header.
    expect(doc.paths['/api/orders'].post.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ in: 'header', name: 'idempotency-key', required: true }),
      ]),
    );

    const docs = await t.request('GET', '/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/^text\/html/);
    expect(docs.body).toContain('<title>Swagger UI</title>');
  });

  it('answered no 5xx and no stack trace; every command and query carried its position header', () => {
    expect(t.recorded.length).toBeGreaterThan(100);
    expect(t.recorded.every((r) => r.status < 500)).toBe(true);
    expectNoServerErrors(t);
    expectConsistencyHeaders(t);
    expect(t.lastPosition).toMatch(DECIMAL);
  });
});
