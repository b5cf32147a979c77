// End to end over real HTTP: event-sourced carts and their checkout, in both read modes: owners
// only, merged lines, CART_CLOSED, CART_EMPTY, OUT_OF_STOCK leaving the cart as it was,
// idempotent checkout, racing checkouts, and the dashboard's abandoned carts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODES, type Reply, startShop, type TestShop } from './harness.js';
import {
  createCategory,
  createProduct,
  DECIMAL,
  expectCommand,
  expectConsistencyHeaders,
  expectError,
  expectNoServerErrors,
  expectQuery,
  nextMillisecond,
  setStock,
  UUID_V7,
} from './helpers.js';

type Cart = {
  cartId: string;
  status: 'open' | 'checked_out';
  items: { productId: string; quantity: number }[];
  position: string;
};

const HOUR = 60 * 60 * 1000;

describe.each(MODES)('carts (%s, %s)', (mode, stack) => {
  let t: TestShop;
  let ann: { customerId: string; token: string };
  let bob: { customerId: string; token: string };
  let mug: string;
  let pot: string;
  let retired: string;

  const newCart = async (token = ann.token) =>
    expectCommand<{ cartId: string }>(await t.request('POST', '/api/carts', { token }), 201);
  const getCart = (cartId: string, token = ann.token) =>
    t.read<Cart>(`/api/carts/${cartId}`, { token });
  const addItem = (cartId: string, body: unknown, token = ann.token) =>
    t.request<Cart>('POST', `/api/carts/${cartId}/items`, { body, token });
  const removeItem = (cartId: string, productId: string, token = ann.token) =>
    t.request<Cart>('DELETE', `/api/carts/${cartId}/items/${productId}`, { token });
  const checkout = (cartId: string, key: string | undefined, token = ann.token) =>
    t.request('POST', `/api/carts/${cartId}/checkout`, {
      token,
      ...(key === undefined ? {} : { headers: { 'idempotency-key': key } }),
    });
  /** A cart answer: the command or query headers, and the exact cart. */
  function expectCart(r: Reply<Cart>, cart: Omit<Cart, 'position'>, command = true): Cart {
    const body = command ? expectCommand<Omit<Cart, 'position'>>(r, 200) : expectQuery(r);
    expect(body).toEqual({ ...cart, position: expect.stringMatching(DECIMAL) });
    return body as Cart;
  }
  const dashboard = async (now?: number) =>
    expectQuery(
      await t.read(
        `/api/admin/dashboard${now === undefined ? '' : `?now=${new Date(now).toISOString()}`}`,
        { token: t.adminToken },
      ),
    );

  beforeAll(async () => {
    t = await startShop(mode, {}, stack);
    ann = await t.customer('Ann');
    bob = await t.customer('Bob');
    const category = await createCategory(t, 'Kitchen');
    mug = await createProduct(t, {
      sku: 'MUG',
      name: 'Mug',
      categoryId: category,
      priceCents: 1200,
    });
    pot = await createProduct(t, {
      sku: 'POT',
      name: 'Pot',
      categoryId: category,
      priceCents: 3000,
    });
    retired = await createProduct(t, {
      sku: 'OLD',
      name: 'Old',
      categoryId: category,
      priceCents: 100,
    });
    await setStock(t, mug, 10);
    await setStock(t, pot, 2);
    await setStock(t, retired, 5);
    const off = await t.request('PATCH', `/api/products/${retired}`, {
      body: { active: false },
      token: t.adminToken,
    });
    expectCommand(off, 200);
  });

  afterAll(async () => {
    await t.close();
  });

  it('POST /api/carts answers 201 {cartId, position}; GET shows the empty open cart at that position', async () => {
    const created = await newCart();
    expect(Object.keys(created).sort()).toEqual(['cartId', 'position']);
    const r = await getCart(created.cartId);
    const cart = expectCart(r, { cartId: created.cartId, status: 'open', items: [] }, false);
    expect(cart.position).toBe(created.position);
    expect(r.headers.get('x-read-source')).toBe('write-db');
  });

  it('adds merge per product, in first-added order; a delete removes the line; deleting an absent product changes nothing', async () => {
    const { cartId } = await newCart();
    expectCart(await addItem(cartId, { productId: mug, quantity: 2 }), {
      cartId,
      status: 'open',
      items: [{ productId: mug, quantity: 2 }],
    });
    await addItem(cartId, { productId: pot, quantity: 1 });
    const merged = expectCart(await addItem(cartId, { productId: mug, quantity: 3 }), {
      cartId,
      status: 'open',
      items: [
        { productId: mug, quantity: 5 },
        { productId: pot, quantity: 1 },
      ],
    });
    // GET reads the stream: the same cart, at the position of its last event.
    const read = expectCart(await getCart(cartId), { ...merged, cartId }, false);
    expect(read.position).toBe(merged.position);

    const removed = expectCart(await removeItem(cartId, mug), {
      cartId,
      status: 'open',
      items: [{ productId: pot, quantity: 1 }],
    });
    expectCart(await removeItem(cartId, mug), {
      cartId,
      status: 'open',
      items: [{ productId: pot, quantity: 1 }],
    });
    expect((await getCart(cartId)).body.position).toBe(removed.position);
  });

  it('refuses bad input, unknown and inactive products, changing nothing', async () => {
    const { cartId } = await newCart();
    await addItem(cartId, { productId: mug, quantity: 1 });
    const before = (await getCart(cartId)).body;
    for (const body of [
      { productId: mug, quantity: 0 },
      { productId: mug, quantity: 10_001 },
      { productId: mug, quantity: '2' },
      { productId: mug, quantity: 1.5 },
      { productId: mug },
      { productId: mug, quantity: 1, priceCents: 1 },
      { productId: 'bad id!', quantity: 1 },
    ]) {
      expectError(await addItem(cartId, body), 400, 'VALIDATION_FAILED');
    }
    expectError(
      await addItem(cartId, { productId: mug, quantity: 10_000 }),
      400,
      'VALIDATION_FAILED',
    );
    expectError(await addItem(cartId, { productId: 'no-such', quantity: 1 }), 404, 'NOT_FOUND');
    expectError(
      await addItem(cartId, { productId: retired, quantity: 1 }),
      422,
      'PRODUCT_INACTIVE',
    );
    expect((await getCart(cartId)).body).toEqual(before);
  });

  it("another customer's cart is 404 on every route, as one that does not exist; admins and strangers are refused", async () => {
    const { cartId } = await newCart();
    await addItem(cartId, { productId: mug, quantity: 1 });
    const before = (await getCart(cartId)).body;
    for (const id of [cartId, 'no-such-cart']) {
      expectError(await getCart(id, bob.token), 404, 'NOT_FOUND');
      expectError(await addItem(id, { productId: mug, quantity: 1 }, bob.token), 404, 'NOT_FOUND');
      expectError(await removeItem(id, mug, bob.token), 404, 'NOT_FOUND');
      expectError(await checkout(id, 'bob-key', bob.token), 404, 'NOT_FOUND');
    }
    expectError(await getCart('no-such-cart'), 404, 'NOT_FOUND');
    expectError(await getCart(cartId, t.adminToken), 403, 'FORBIDDEN');
    expectError(await t.request('POST', '/api/carts', { token: t.adminToken }), 403, 'FORBIDDEN');
    expectError(await t.request('GET', `/api/carts/${cartId}`), 401, 'UNAUTHORIZED');
    expectError(await t.request('POST', '/api/carts'), 401, 'UNAUTHORIZED');
    expect((await getCart(cartId)).body).toEqual(before);
  });

  it('checkout needs an Idempotency-Key (400) and refuses an empty cart (422 CART_EMPTY)', async () => {
    const { cartId } = await newCart();
    expectError(await checkout(cartId, ''), 400, 'VALIDATION_FAILED');
    await addItem(cartId, { productId: mug, quantity: 1 });
    expectError(await checkout(cartId, undefined), 400, 'VALIDATION_FAILED');
    await removeItem(cartId, mug);
    expectError(await checkout(cartId, 'empty-1'), 422, 'CART_EMPTY');
    expectCart(await getCart(cartId), { cartId, status: 'open', items: [] }, false);
  });

  it('OUT_OF_STOCK names each short line and leaves the cart open and unchanged, with no order', async () => {
    const { cartId } = await newCart();
    await addItem(cartId, { productId: mug, quantity: 11 });
    await addItem(cartId, { productId: pot, quantity: 3 });
    const before = (await getCart(cartId)).body;
    const stockBefore = expectQuery(await t.read(`/api/products/${pot}`)).stock;
    expectError(await checkout(cartId, 'short-1'), 409, 'OUT_OF_STOCK', {
      lines: [
        { productId: mug, requested: 11, available: 10 },
        { productId: pot, requested: 3, available: 2 },
      ],
    });
    expect((await getCart(cartId)).body).toEqual(before);
    expect(
      expectQuery(await t.read('/api/customers/me/orders', { token: ann.token })).items,
    ).toEqual([]);
    expect(expectQuery(await t.read(`/api/products/${pot}`)).stock).toBe(stockBefore);
  });

  it('checkout answers 201 {orderId, totalCents, position}, makes the order at catalog prices, and closes the cart', async () => {
    const { cartId } = await newCart();
    await addItem(cartId, { productId: mug, quantity: 2 });
    await addItem(cartId, { productId: pot, quantity: 1 });
    const r = await checkout(cartId, 'buy-1');
    const placed = expectCommand<{ orderId: string; totalCents: number }>(r, 201);
    expect(Object.keys(placed).sort()).toEqual(['orderId', 'position', 'totalCents']);
    expect(placed.totalCents).toBe(2 * 1200 + 3000);
    // Named as POST /api/orders names orders: a time-ordered id (UUIDv7).
    expect(placed.orderId).toMatch(UUID_V7);

    const order = expectQuery(await t.read(`/api/orders/${placed.orderId}`, { token: ann.token }));
    expect(order).toMatchObject({
      orderId: placed.orderId,
      customerId: ann.customerId,
      status: 'placed',
      totalCents: 5400,
      items: [
        { productId: mug, name: 'Mug', quantity: 2, unitPriceCents: 1200 },
        { productId: pot, name: 'Pot', quantity: 1, unitPriceCents: 3000 },
      ],
    });
    expect(expectQuery(await t.read(`/api/products/${pot}`)).stock).toBe(1);
    const closed = expectCart(
      await getCart(cartId),
      {
        cartId,
        status: 'checked_out',
        items: [
          { productId: mug, quantity: 2 },
          { productId: pot, quantity: 1 },
        ],
      },
      false,
    );
    expect(closed.position).toBe(placed.position); // CartCheckedOut is the checkout's last event

    // Replays answer the first result; nothing new happens.
    const again = await checkout(cartId, 'buy-1');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(placed);
    expect(again.headers.get('x-consistency-token')).toBe(placed.position);
    expect(expectQuery(await t.read(`/api/products/${pot}`)).stock).toBe(1);
    // The same key for another cart is a different request.
    const other = await newCart();
    await addItem(other.cartId, { productId: mug, quantity: 1 });
    expectError(await checkout(other.cartId, 'buy-1'), 422, 'IDEMPOTENCY_KEY_REUSED');

    // A closed cart refuses every change.
    expectError(await addItem(cartId, { productId: mug, quantity: 1 }), 409, 'CART_CLOSED');
    expectError(await removeItem(cartId, mug), 409, 'CART_CLOSED');
    expectError(await checkout(cartId, 'buy-2'), 409, 'CART_CLOSED');
    expect((await getCart(cartId)).body).toEqual(closed);
    const orders = expectQuery(await t.read('/api/customers/me/orders', { token: ann.token }));
    expect(orders.items.map((o: { orderId: string }) => o.orderId)).toEqual([placed.orderId]);
  });

  it('two checkouts of one cart at the same time make exactly one order', async () => {
    const customer = await t.customer('Racer');
    const { cartId } = await newCart(customer.token);
    await addItem(cartId, { productId: mug, quantity: 1 }, customer.token);
    const replies = await Promise.all(
      ['race-1', 'race-2', 'race-3'].map((key) => checkout(cartId, key, customer.token)),
    );
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409]);
    for (const r of replies.filter((x) => x.status === 409)) expectError(r, 409, 'CART_CLOSED');
    const orders = expectQuery(await t.read('/api/customers/me/orders', { token: customer.token }));
    expect(orders.items).toHaveLength(1);
  });

  it("GET /api/customers/me/carts lists the caller's open carts, last changed first", async () => {
    const customer = await t.customer('Lister');
    const first = await newCart(customer.token);
    const second = await newCart(customer.token);
    await addItem(second.cartId, { productId: mug, quantity: 4 }, customer.token);
    const third = await newCart(customer.token);
    await addItem(third.cartId, { productId: pot, quantity: 1 }, customer.token);
    await checkout(third.cartId, 'lister-1', customer.token);
    const r = expectQuery(await t.read('/api/customers/me/carts', { token: customer.token }));
    const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(r.items.map((c: { cartId: string }) => c.cartId).sort()).toEqual(
      [first.cartId, second.cartId].sort(),
    );
    expect(r.items).toContainEqual({
      cartId: second.cartId,
      items: [{ productId: mug, quantity: 4 }],
      updatedAt: ISO,
    });
    expect(r.items).toContainEqual({ cartId: first.cartId, items: [], updatedAt: ISO });
    const times = r.items.map((c: { updatedAt: string }) => Date.parse(c.updatedAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expectError(await t.request('GET', '/api/customers/me/carts'), 401, 'UNAUTHORIZED');
  });

  it('the dashboard counts abandoned carts: items, no checkout, no change for over an hour before `now`', async () => {
    // Earlier tests left open carts with items (Ann's among them); all changed moments ago.
    expect((await dashboard()).abandonedCarts).toBe(0);
    const annsWithItems = expectQuery(
      await t.read('/api/customers/me/carts', { token: ann.token }),
    ).items.filter((c: { items: unknown[] }) => c.items.length > 0);
    expect(annsWithItems.length).toBeGreaterThan(0);

    const { cartId } = await newCart(bob.token);
    await nextMillisecond(); // this cart's last change comes after every earlier one
    expectCommand(await addItem(cartId, { productId: mug, quantity: 1 }, bob.token), 200);
    const mine = expectQuery(await t.read('/api/customers/me/carts', { token: bob.token }));
    expect(mine.items).toHaveLength(1);
    const touched = Date.parse(mine.items[0].updatedAt);

    // An hour after its last change the new cart is not yet over the hour; every earlier one is.
    const before = (await dashboard(touched + HOUR)).abandonedCarts;
    expect(before).toBeGreaterThanOrEqual(annsWithItems.length);
    expect((await dashboard(touched + HOUR + 1)).abandonedCarts).toBe(before + 1);
    expect((await dashboard(touched + 24 * HOUR)).abandonedCarts).toBe(before + 1);
    // An empty open cart is never abandoned; a checked-out one leaves the count.
    await newCart(bob.token);
    expect((await dashboard(touched + 24 * HOUR)).abandonedCarts).toBe(before + 1);
    expectCommand(await checkout(cartId, 'bob-buys', bob.token), 201);
    expect((await dashboard(touched + 24 * HOUR)).abandonedCarts).toBe(before);

    expectError(
      await t.read('/api/admin/dashboard?now=yesterday', { token: t.adminToken }),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('OpenAPI documents the cart routes, the checkout with its required header', async () => {
    const doc = (await t.request('GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/carts',
        '/api/carts/{id}',
        '/api/carts/{id}/items',
        '/api/carts/{id}/items/{productId}',
        '/api/carts/{id}/checkout',
        '/api/customers/me/carts',
      ]),
    );
    expect(doc.paths['/api/carts/{id}/checkout'].post.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ in: 'header', name: 'idempotency-key', required: true }),
      ]),
    );
    expect(doc.paths['/api/admin/dashboard'].get.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ in: 'query', name: 'now' })]),
    );
  });

  it('answered no 5xx and no stack trace; every command and query carried its position header', () => {
    expect(t.recorded.length).toBeGreaterThan(50);
    expectNoServerErrors(t);
    expectConsistencyHeaders(t);
    expect(t.lastPosition).toMatch(DECIMAL);
  });
});
