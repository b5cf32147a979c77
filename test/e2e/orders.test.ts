// End to end over real HTTP: customers and orders (placement, idempotency, owners, cancels,
// a flash sale racing for the last units), in both read modes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODES, startShop, type TestShop } from './harness.js';
import {
  expectCommand,
  expectConsistencyHeaders,
  expectError,
  expectNoServerErrors,
  expectQuery,
  headPosition,
  nextMillisecond,
  placeOrder,
  ShopModel,
  UUID_V7,
} from './helpers.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface Line {
  productId: string;
  quantity: number;
}

/** Every mode, commands on the writer thread (SQLite's default), and on the event loop once. */
const WRITERS = [
  ...MODES.map(([mode, stack]) => [mode, stack, 'writer thread'] as const),
  ['read-model', 'sqlite', 'event loop'] as const,
];

describe.each(WRITERS)(
  'customers and orders (%s, %s, commands on the %s)',
  (mode, stack, writer) => {
    let t: TestShop;
    let m: ShopModel;
    let mug: string;
    let pot: string;
    let flash: string;
    let retired: string;
    /** What each placed order took from which warehouse, to release on cancel. */
    const taken = new Map<string, [string, [string, number][]][]>();

    /** Places an order that must succeed, and books its stock in the model. */
    async function order(token: string, items: Line[], key?: string) {
      const r = await placeOrder(t, token, items, key);
      const body = expectCommand<{ orderId: string; totalCents: number }>(r, 201);
      expect(Object.keys(body).sort()).toEqual(['orderId', 'position', 'totalCents']);
      expect(body.totalCents).toBe(
        items.reduce((sum, l) => sum + l.quantity * m.get(l.productId).priceCents, 0),
      );
      taken.set(
        body.orderId,
        items.map((l) => [l.productId, m.take(l.productId, l.quantity)]),
      );
      return body;
    }

    function released(orderId: string) {
      for (const [productId, parts] of taken.get(orderId) ?? []) m.release(productId, parts);
      taken.delete(orderId);
    }

    const orderView = (
      orderId: string,
      customerId: string,
      items: Line[],
      status: 'placed' | 'cancelled' = 'placed',
    ) => ({
      orderId,
      customerId,
      status,
      items: items.map((l) => ({
        productId: l.productId,
        name: m.get(l.productId).name,
        quantity: l.quantity,
        unitPriceCents: m.get(l.productId).priceCents,
      })),
      totalCents: items.reduce((sum, l) => sum + l.quantity * m.get(l.productId).priceCents, 0),
      createdAt: expect.stringMatching(ISO),
    });

    const detail = async (productId: string) =>
      expectQuery(await t.read(`/api/products/${productId}`));

    beforeAll(async () => {
      t = await startShop(
        mode,
        writer === 'event loop' ? { TWOROOMS_WRITE_THREAD: 'off' } : {},
        stack,
      );
      m = new ShopModel(t);
      const shopCat = await m.category('Shop');
      mug = await m.product({ sku: 'MUG', name: 'Mug', categoryId: shopCat, priceCents: 1200 });
      pot = await m.product({ sku: 'POT', name: 'Pot', categoryId: shopCat, priceCents: 4500 });
      flash = await m.product({
        sku: 'FLASH',
        name: 'Flash',
        categoryId: shopCat,
        priceCents: 999,
      });
      retired = await m.product({
        sku: 'OLD',
        name: 'Retired',
        categoryId: shopCat,
        priceCents: 900,
      });
      await m.stock(mug, 100, 'north');
      await m.stock(pot, 3, 'north');
      await m.stock(pot, 2, 'south');
      await m.stock(flash, 30, 'east');
      await m.stock(flash, 20, 'west');
      await m.stock(retired, 10, 'north');
    });

    afterAll(async () => {
      await t?.close();
    });

    it('POST /api/customers answers 201 {customerId, token, position}; the token is the customer', async () => {
      const r = await t.request('POST', '/api/customers', {
        body: { email: 'Ada@Example.com', name: 'Ada' },
      });
      const body = expectCommand<{ customerId: string; token: string }>(r, 201);
      expect(Object.keys(body).sort()).toEqual(['customerId', 'position', 'token']);
      expect(body.customerId).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(body.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      const mine = await t.read('/api/customers/me/orders', { token: body.token });
      expect(expectQuery(mine)).toEqual({ items: [] });
      // The email is unique whatever its case.
      const again = await t.request('POST', '/api/customers', {
        body: { email: 'ada@example.COM', name: 'Ada again' },
      });
      expectError(again, 409, 'EMAIL_TAKEN');
    });

    it('POST /api/orders answers 201 {orderId, totalCents, position}; GET /api/orders/:id, me/orders and the dashboard show it', async () => {
      const x = await t.customer('Xavier');
      const y = await t.customer('Yolanda');
      const xItems = [
        { productId: mug, quantity: 2 },
        { productId: pot, quantity: 1 },
      ];
      const xo = await order(x.token, xItems);
      expect(xo.totalCents).toBe(6900);
      await nextMillisecond();
      const yo = await order(y.token, [{ productId: mug, quantity: 1 }]);
      expect(yo.totalCents).toBe(1200);

      const got = expectQuery(await t.read(`/api/orders/${xo.orderId}`, { token: x.token }));
      expect(got).toEqual(orderView(xo.orderId, x.customerId, xItems));
      expect(Date.now() - Date.parse(got.createdAt)).toBeLessThan(60_000);
      expect(expectQuery(await t.read('/api/customers/me/orders', { token: x.token }))).toEqual({
        items: [got],
      });

      // Stock is reserved at placement: from the warehouse with the most units first.
      expect(await detail(mug)).toMatchObject({ stock: 97, stockAvailable: true });
      expect(await detail(pot)).toMatchObject({ stock: 4, stockAvailable: true });
      expect(m.get(pot).stock).toEqual(
        new Map([
          ['north', 2],
          ['south', 2],
        ]),
      );

      const dashboard = expectQuery(await t.read('/api/admin/dashboard', { token: t.adminToken }));
      expect(dashboard).toEqual({
        ordersToday: 2,
        revenueTodayCents: 8100,
        lowStock: [
          { id: pot, name: 'Pot', stock: 4 },
          { id: retired, name: 'Retired', stock: 10 },
        ],
        topSellers: [
          { id: mug, name: 'Mug', unitsSold: 3 },
          { id: pot, name: 'Pot', unitsSold: 1 },
        ],
        recentOrders: [
          {
            orderId: yo.orderId,
            customerId: y.customerId,
            status: 'placed',
            totalCents: 1200,
            createdAt: expect.stringMatching(ISO),
          },
          {
            orderId: xo.orderId,
            customerId: x.customerId,
            status: 'placed',
            totalCents: 6900,
            createdAt: got.createdAt,
          },
        ],
        abandonedCarts: 0,
      });

      // The owner cancels: 200 {position}; the stock comes back to where it was taken from.
      const cancel = await t.request('POST', `/api/orders/${xo.orderId}/cancel`, {
        token: x.token,
      });
      expect(Object.keys(expectCommand(cancel, 200))).toEqual(['position']);
      released(xo.orderId);
      expect(expectQuery(await t.read(`/api/orders/${xo.orderId}`, { token: x.token }))).toEqual({
        ...got,
        status: 'cancelled',
      });
      expect(await detail(mug)).toMatchObject({ stock: 99 });
      expect(await detail(pot)).toMatchObject({ stock: 5 });
      const after = expectQuery(await t.read('/api/admin/dashboard', { token: t.adminToken }));
      expect(after).toEqual({
        ...dashboard,
        ordersToday: 1,
        revenueTodayCents: 1200,
        lowStock: [
          { id: pot, name: 'Pot', stock: 5 },
          { id: retired, name: 'Retired', stock: 10 },
        ],
        topSellers: [{ id: mug, name: 'Mug', unitsSold: 1 }],
        recentOrders: [
          dashboard.recentOrders[0],
          { ...dashboard.recentOrders[1], status: 'cancelled' },
        ],
      });

      // Cancelling twice is refused and changes nothing.
      const head = await headPosition(t);
      const twice = await t.request('POST', `/api/orders/${xo.orderId}/cancel`, { token: x.token });
      expectError(twice, 409, 'ORDER_NOT_CANCELLABLE', {
        orderId: xo.orderId,
        status: 'cancelled',
      });
      expect(await headPosition(t)).toBe(head);
      expect(await detail(pot)).toMatchObject({ stock: 5 });
    });

    it('GET /api/customers/me/orders lists only the caller’s orders, newest first', async () => {
      const a = await t.customer('Ann');
      const b = await t.customer('Bob');
      const first = await order(a.token, [{ productId: mug, quantity: 1 }]);
      await nextMillisecond();
      const other = await order(b.token, [{ productId: mug, quantity: 4 }]);
      await nextMillisecond();
      const second = await order(a.token, [{ productId: pot, quantity: 2 }]);
      const mine = expectQuery(await t.read('/api/customers/me/orders', { token: a.token }));
      expect(mine).toEqual({
        items: [
          orderView(second.orderId, a.customerId, [{ productId: pot, quantity: 2 }]),
          orderView(first.orderId, a.customerId, [{ productId: mug, quantity: 1 }]),
        ],
      });
      expect(
        expectQuery(await t.read('/api/customers/me/orders', { token: b.token })).items.map(
          (o: { orderId: string }) => o.orderId,
        ),
      ).toEqual([other.orderId]);
    });

    it('new orders are named with time-ordered ids (UUIDv7): each sorts after the one before', async () => {
      const c = await t.customer('Regular');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push((await order(c.token, [{ productId: mug, quantity: 1 }])).orderId);
      }
      for (const id of ids) expect(id).toMatch(UUID_V7);
      expect([...ids].sort()).toEqual(ids);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('only the owner or an admin sees or cancels an order; others get 404', async () => {
      const owner = await t.customer('Owner');
      const stranger = await t.customer('Stranger');
      const items = [{ productId: pot, quantity: 1 }];
      const placed = await order(owner.token, items);
      const stockAfterOrder = m.stockOf(pot);
      expect(await detail(pot)).toMatchObject({ stock: stockAfterOrder });

      const peek = await t.read(`/api/orders/${placed.orderId}`, { token: stranger.token });
      expectError(peek, 404, 'NOT_FOUND', { orderId: placed.orderId });
      const head = await headPosition(t);
      const steal = await t.request('POST', `/api/orders/${placed.orderId}/cancel`, {
        token: stranger.token,
      });
      expectError(steal, 404, 'NOT_FOUND', { orderId: placed.orderId });
      expect(await headPosition(t)).toBe(head);
      expect(
        expectQuery(await t.read('/api/customers/me/orders', { token: stranger.token })),
      ).toEqual({ items: [] });
      // Anonymous callers are not let in at all.
      expectError(await t.read(`/api/orders/${placed.orderId}`), 401, 'UNAUTHORIZED');
      expectError(
        await t.request('POST', `/api/orders/${placed.orderId}/cancel`),
        401,
        'UNAUTHORIZED',
      );

      // An admin reads it and cancels it; the units come back.
      const asAdmin = expectQuery(
        await t.read(`/api/orders/${placed.orderId}`, { token: t.adminToken }),
      );
      expect(asAdmin).toEqual(orderView(placed.orderId, owner.customerId, items));
      const cancel = await t.request('POST', `/api/orders/${placed.orderId}/cancel`, {
        token: t.adminToken,
      });
      expectCommand(cancel, 200);
      released(placed.orderId);
      expect(m.stockOf(pot)).toBe(stockAfterOrder + 1);
      expect(await detail(pot)).toMatchObject({ stock: stockAfterOrder + 1 });
      expect(
        expectQuery(await t.read(`/api/orders/${placed.orderId}`, { token: owner.token })).status,
      ).toBe('cancelled');
      const again = await t.request('POST', `/api/orders/${placed.orderId}/cancel`, {
        token: owner.token,
      });
      expectError(again, 409, 'ORDER_NOT_CANCELLABLE', {
        orderId: placed.orderId,
        status: 'cancelled',
      });
      // Unknown orders are 404 for everyone.
      expectError(
        await t.read('/api/orders/no-such-order', { token: t.adminToken }),
        404,
        'NOT_FOUND',
        { orderId: 'no-such-order' },
      );
      expectError(
        await t.request('POST', '/api/orders/no-such-order/cancel', { token: t.adminToken }),
        404,
        'NOT_FOUND',
        { orderId: 'no-such-order' },
      );
    });

    it('an Idempotency-Key replay answers the first result again and never makes a second order', async () => {
      const c = await t.customer('Careful');
      const items = [{ productId: mug, quantity: 3 }];
      const first = await placeOrder(t, c.token, items, 'checkout-1');
      const firstBody = expectCommand<{ orderId: string; totalCents: number }>(first, 201);
      taken.set(firstBody.orderId, [[mug, m.take(mug, 3)]]);
      const stock = m.stockOf(mug);

      // The price changes between the first request and its replay: the replay does not re-run.
      await m.price(mug, 1300);
      const head = await headPosition(t);
      for (let i = 0; i < 3; i++) {
        const replay = await placeOrder(t, c.token, items, 'checkout-1');
        expect({ status: replay.status, body: replay.body }).toEqual({
          status: 201,
          body: { orderId: firstBody.orderId, totalCents: 3600, position: firstBody.position },
        });
        expect(replay.headers.get('x-consistency-token')).toBe(firstBody.position);
      }
      expect(await headPosition(t)).toBe(head);
      const mine = expectQuery(await t.read('/api/customers/me/orders', { token: c.token }));
      expect(mine.items).toHaveLength(1);
      expect(mine.items[0]).toMatchObject({ orderId: firstBody.orderId, totalCents: 3600 });
      expect(await detail(mug)).toMatchObject({ stock: stock });

      // The same key with another body is refused, and changes nothing.
      const other = await placeOrder(t, c.token, [{ productId: mug, quantity: 4 }], 'checkout-1');
      expectError(other, 422, 'IDEMPOTENCY_KEY_REUSED');
      // Without a key: 400.
      const keyless = await t.request('POST', '/api/orders', {
        body: { items },
        token: c.token,
      });
      expectError(keyless, 400, 'VALIDATION_FAILED');
      expect(keyless.body.error.details).toEqual([
        {
          where: 'headers',
          path: '/',
          problem: "must have required property 'idempotency-key'",
        },
      ]);
      expect(await headPosition(t)).toBe(head);
      expect(
        expectQuery(await t.read('/api/customers/me/orders', { token: c.token })).items,
      ).toHaveLength(1);
      expect(await detail(mug)).toMatchObject({ stock: stock });

      // Another customer with the same key makes an order of their own.
      const d = await t.customer('Neighbour');
      const theirs = await order(d.token, items, 'checkout-1');
      expect(theirs.orderId).not.toBe(firstBody.orderId);
      expect(theirs.totalCents).toBe(3900);
      expect(
        expectQuery(await t.read('/api/customers/me/orders', { token: d.token })).items.map(
          (o: { orderId: string }) => o.orderId,
        ),
      ).toEqual([theirs.orderId]);
      expect(
        expectQuery(await t.read('/api/customers/me/orders', { token: c.token })).items,
      ).toHaveLength(1);
      expect(await detail(mug)).toMatchObject({ stock: stock - 3 });
    });

    it('the same Idempotency-Key sent 10 times at once makes one order', async () => {
      const c = await t.customer('Double clicker');
      const items = [{ productId: mug, quantity: 1 }];
      const replies = await Promise.all(
        Array.from({ length: 10 }, () => placeOrder(t, c.token, items, 'same-click')),
      );
      const created = replies.filter((r) => r.status === 201);
      expect(created.length).toBeGreaterThanOrEqual(1);
      const orderId = created[0]!.body.orderId;
      for (const r of replies) {
        if (r.status === 201) {
          expect(r.body).toEqual(created[0]!.body);
        } else {
          expectError(r, 409, 'IDEMPOTENCY_KEY_IN_USE');
        }
      }
      taken.set(orderId, [[mug, m.take(mug, 1)]]);
      const mine = expectQuery(await t.read('/api/customers/me/orders', { token: c.token }));
      expect(mine.items.map((o: { orderId: string }) => o.orderId)).toEqual([orderId]);
      expect(await detail(mug)).toMatchObject({ stock: m.stockOf(mug) });
    });

    it('200 orders racing for 50 units: exactly 50 succeed, the rest are OUT_OF_STOCK, stock ends at 0', async () => {
      const customers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => t.customer(`Flash buyer ${i}`)),
      );
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          placeOrder(
            t,
            customers[i % 20]!.token,
            [{ productId: flash, quantity: 1 }],
            `flash-${i}`,
          ),
        ),
      );
      const won = replies.filter((r) => r.status === 201);
      const lost = replies.filter((r) => r.status !== 201);
      expect(won).toHaveLength(50);
      expect(lost).toHaveLength(150);
      for (const r of won) {
        expectCommand(r, 201);
        expect(r.body.totalCents).toBe(999);
      }
      for (const r of lost) {
        expectError(r, 409, 'OUT_OF_STOCK', {
          lines: [{ productId: flash, requested: 1, available: 0 }],
        });
      }
      expect(new Set(won.map((r) => r.body.orderId)).size).toBe(50);
      for (const r of won) taken.set(r.body.orderId, [[flash, m.take(flash, 1)]]);
      expect(m.stockOf(flash)).toBe(0);

      const d = await detail(flash);
      expect(d).toMatchObject({ stock: 0, stockAvailable: false });
      expect(d).toEqual({ ...m.detail(flash), recentReviews: [] });
      const listed = expectQuery(await t.read(`/api/search?q=flash`));
      expect(listed.items).toEqual([m.item(flash)]);
      let orders = 0;
      for (const c of customers) {
        const mine = expectQuery(await t.read('/api/customers/me/orders', { token: c.token }));
        orders += mine.items.length;
        for (const o of mine.items) expect(o).toMatchObject({ status: 'placed', totalCents: 999 });
      }
      expect(orders).toBe(50);
      const dashboard = expectQuery(await t.read('/api/admin/dashboard', { token: t.adminToken }));
      expect(dashboard.lowStock[0]).toEqual({ id: flash, name: 'Flash', stock: 0 });
      expect(dashboard.topSellers[0]).toEqual({ id: flash, name: 'Flash', unitsSold: 50 });

      // Sold out: one more order is refused; an order naming several short lines names each.
      const late = await t.customer('Late');
      const head = await headPosition(t);
      const both = await placeOrder(t, late.token, [
        { productId: flash, quantity: 1 },
        { productId: mug, quantity: 2 },
        { productId: pot, quantity: 1000 },
      ]);
      expectError(both, 409, 'OUT_OF_STOCK', {
        lines: [
          { productId: flash, requested: 1, available: 0 },
          { productId: pot, requested: 1000, available: m.stockOf(pot) },
        ],
      });
      expect(await headPosition(t)).toBe(head);
      // Nothing was reserved for the line that could have been served.
      expect(await detail(mug)).toMatchObject({ stock: m.stockOf(mug) });

      // A cancel gives a unit back, and it can be sold again.
      const back = won[0]!.body.orderId;
      const owner = customers.find((_, i) => replies.indexOf(won[0]!) % 20 === i)!;
      expectCommand(
        await t.request('POST', `/api/orders/${back}/cancel`, { token: owner.token }),
        200,
      );
      released(back);
      expect(await detail(flash)).toMatchObject({ stock: 1, stockAvailable: true });
      await order(late.token, [{ productId: flash, quantity: 1 }]);
      expect(await detail(flash)).toMatchObject({ stock: 0, stockAvailable: false });
    });

    it('10 racing cancels of one order: one succeeds, the others are ORDER_NOT_CANCELLABLE; the stock comes back once', async () => {
      const c = await t.customer('Hesitant');
      const placed = await order(c.token, [{ productId: mug, quantity: 5 }]);
      const stock = m.stockOf(mug);
      expect(await detail(mug)).toMatchObject({ stock });
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          t.request('POST', `/api/orders/${placed.orderId}/cancel`, {
            token: i % 2 === 0 ? c.token : t.adminToken,
          }),
        ),
      );
      const ok = replies.filter((r) => r.status === 200);
      expect(ok).toHaveLength(1);
      expectCommand(ok[0]!, 200);
      for (const r of replies.filter((x) => x.status !== 200)) {
        expectError(r, 409, 'ORDER_NOT_CANCELLABLE', {
          orderId: placed.orderId,
          status: 'cancelled',
        });
      }
      released(placed.orderId);
      expect(m.stockOf(mug)).toBe(stock + 5);
      expect(await detail(mug)).toMatchObject({ stock: stock + 5 });
    });

    it('racing registrations with one email: one customer, the others EMAIL_TAKEN', async () => {
      const replies = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          t.request('POST', '/api/customers', {
            body: { email: i % 2 ? 'race@example.com' : 'RACE@example.com', name: `Racer ${i}` },
          }),
        ),
      );
      expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
      for (const r of replies.filter((x) => x.status !== 201)) expectError(r, 409, 'EMAIL_TAKEN');
    });

    it('ordering a deactivated product is PRODUCT_INACTIVE (422) and changes nothing', async () => {
      const c = await t.customer('Collector');
      await m.patch(retired, { active: false });
      const head = await headPosition(t);
      const r = await placeOrder(t, c.token, [{ productId: retired, quantity: 1 }]);
      expectError(r, 422, 'PRODUCT_INACTIVE', { productId: retired });
      const mixed = await placeOrder(t, c.token, [
        { productId: mug, quantity: 1 },
        { productId: retired, quantity: 1 },
      ]);
      expectError(mixed, 422, 'PRODUCT_INACTIVE', { productId: retired });
      expect(await headPosition(t)).toBe(head);
      expect(await detail(retired)).toMatchObject({ stock: 10, active: false });
      expect(await detail(mug)).toMatchObject({ stock: m.stockOf(mug) });
      expect(expectQuery(await t.read('/api/customers/me/orders', { token: c.token }))).toEqual({
        items: [],
      });
      // Active again: it sells.
      await m.patch(retired, { active: true });
      await order(c.token, [{ productId: retired, quantity: 1 }]);
      expect(await detail(retired)).toMatchObject({ stock: 9, active: true });
    });

    it('ordering an unknown product is NOT_FOUND (404) and changes nothing', async () => {
      const c = await t.customer('Lost');
      const head = await headPosition(t);
      const r = await placeOrder(t, c.token, [
        { productId: mug, quantity: 1 },
        { productId: 'no-such-product', quantity: 1 },
      ]);
      expectError(r, 404, 'NOT_FOUND', { productId: 'no-such-product' });
      expect(await headPosition(t)).toBe(head);
      expect(await detail(mug)).toMatchObject({ stock: m.stockOf(mug) });
    });

    it('answered no 5xx and no stack trace; every command and query carried its position header', () => {
      expectNoServerErrors(t);
      expectConsistencyHeaders(t);
    });
  },
);
