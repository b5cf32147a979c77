// The cart's handlers on a real SQLite write DB: the event-sourced create/add/remove, and the
// checkout that spans the cart's stream and the orders' tables in one transaction.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  CommandMetadata,
  Event,
  ReadStreamOptions,
  Sql,
  TworoomsError,
  WriteStore,
} from '../../src/core/index.js';
import { checkOutCart } from '../../src/shop/carts/checkout.js';
import type { ShopCommand } from '../../src/shop/commands.js';
import { openShop, type Shop, STACKS, seedShop, T0 } from './write-harness.js';

describe.each(STACKS)('on %s', (stack) => {
  let shop: Shop;
  let ids: Awaited<ReturnType<typeof seedShop>>;
  const AT0 = T0.toISOString();

  beforeEach(async () => {
    shop = await openShop({ stack });
    ids = await seedShop(shop);
    await stock(ids.green, 5);
    await stock(ids.black, 3);
  });
  afterEach(async () => {
    await shop.close();
  });

  async function stock(productId: string, quantity: number, warehouse = 'main') {
    await shop.run({ type: 'SetStockLevel', data: { productId, warehouse, quantity } });
  }

  const asAnn = (extra: CommandMetadata = {}) => ({ actor: ids.ann, ...extra });
  const asBob = (extra: CommandMetadata = {}) => ({ actor: ids.bob, ...extra });

  const create = (cartId: string, metadata = asAnn()) =>
    shop.run({ type: 'CreateCart', data: { cartId } }, metadata);
  const add = (cartId: string, productId: string, quantity: number, metadata = asAnn()) =>
    shop.run({ type: 'AddCartItem', data: { cartId, productId, quantity } }, metadata);
  const remove = (cartId: string, productId: string, metadata = asAnn()) =>
    shop.run({ type: 'RemoveCartItem', data: { cartId, productId } }, metadata);
  const checkOut = (cartId: string, orderId: string, key?: string, metadata = asAnn()) =>
    shop.run(
      { type: 'CheckOutCart', data: { cartId, orderId } },
      key === undefined ? metadata : { ...metadata, idempotencyKey: key },
    );

  /** Everything a command could change: the harness's snapshot plus the carts' tables. */
  async function snapshot() {
    return {
      ...(await shop.snapshot()),
      carts: await shop.rows('SELECT * FROM carts ORDER BY id'),
      cartLines: await shop.rows('SELECT * FROM cart_lines ORDER BY cart_id, line_no'),
    };
  }

  /** The command is refused with `code` and nothing at all is stored. */
  async function refused(
    run: () => Promise<unknown>,
    code: string,
    details?: unknown,
  ): Promise<TworoomsError> {
    const before = await snapshot();
    const error = await run().then(
      () => {
        throw new Error('the command was not refused');
      },
      (e: TworoomsError) => e,
    );
    expect(error.code).toBe(code);
    if (details !== undefined) expect(error.details).toEqual(details);
    expect(await snapshot()).toEqual(before);
    return error;
  }

  const inventory = () =>
    shop.rows('SELECT product_id, warehouse, quantity FROM inventory ORDER BY product_id');

  describe('cart handlers (event-sourced)', () => {
    it('create, add, merge and remove: the stream holds the facts, the level-1 tables follow it', async () => {
      expect(await create('k1')).toEqual({ cartId: 'k1', position: expect.any(BigInt) });
      const r1 = await add('k1', ids.green, 2);
      expect(r1).toEqual({
        cartId: 'k1',
        status: 'open',
        items: [{ productId: ids.green, quantity: 2 }],
        position: expect.any(BigInt),
      });
      await add('k1', ids.black, 1);
      const r3 = await add('k1', ids.green, 3);
      expect(r3.items).toEqual([
        { productId: ids.green, quantity: 5 },
        { productId: ids.black, quantity: 1 },
      ]);
      expect(r3.position).toBe(await shop.events.headPosition());
      const r4 = await remove('k1', ids.green);
      expect(r4.items).toEqual([{ productId: ids.black, quantity: 1 }]);

      expect(await shop.stream('cart-k1')).toEqual([
        { type: 'CartCreated', data: { v: 1, cartId: 'k1', customerId: ids.ann, at: AT0 } },
        ...[
          [ids.green, 2],
          [ids.black, 1],
          [ids.green, 3],
        ].map(([productId, quantity]) => ({
          type: 'CartItemAdded',
          data: { v: 1, cartId: 'k1', productId, quantity, at: AT0 },
        })),
        { type: 'CartItemRemoved', data: { v: 1, cartId: 'k1', productId: ids.green, at: AT0 } },
      ]);
      const [created] = (await shop.events.readStream('cart-k1')).events;
      expect(created?.metadata).toMatchObject({ actor: ids.ann });

      expect(await shop.rows('SELECT * FROM carts')).toEqual([
        {
          id: 'k1',
          customer_id: ids.ann,
          status: 'open',
          order_id: null,
          line_count: 1,
          created_at: T0.getTime(),
          updated_at: T0.getTime(),
        },
      ]);
      expect(await shop.rows('SELECT product_id, quantity, line_no FROM cart_lines')).toEqual([
        { product_id: ids.black, quantity: 1, line_no: 2 },
      ]);
    });

    it('removing a product the cart does not hold records nothing and answers the cart', async () => {
      await create('k1');
      await add('k1', ids.green, 1);
      const head = await shop.events.headPosition();
      const r = await remove('k1', ids.black);
      expect(r).toEqual({
        cartId: 'k1',
        status: 'open',
        items: [{ productId: ids.green, quantity: 1 }],
        position: head,
      });
      expect(await shop.events.headPosition()).toBe(head);
    });

    it('refuses an unknown product (NOT_FOUND) and one not for sale (PRODUCT_INACTIVE), storing nothing', async () => {
      await create('k1');
      await refused(() => add('k1', 'no-such', 1), 'NOT_FOUND', { productId: 'no-such' });
      await shop.run({
        type: 'ChangeProductDetails',
        data: { productId: ids.black, active: false },
      });
      await refused(() => add('k1', ids.black, 1), 'PRODUCT_INACTIVE', { productId: ids.black });
    });

    it('only a registered customer creates a cart; only its owner touches it', async () => {
      await refused(() => create('k1', { actor: 'admin' }), 'UNAUTHORIZED');
      await refused(() => create('k1', { actor: 'cu-nobody' }), 'UNAUTHORIZED');
      await create('k1');
      await add('k1', ids.green, 1);
      await refused(() => create('k1'), 'VALIDATION_FAILED');
      await refused(() => add('k1', ids.green, 1, asBob()), 'NOT_FOUND');
      await refused(() => remove('k1', ids.green, asBob()), 'NOT_FOUND');
      await refused(() => checkOut('k1', 'o1', 'key', asBob()), 'NOT_FOUND');
      await refused(() => add('nope', ids.green, 1), 'NOT_FOUND');
    });

    it('racing adds to one cart all land (optimistic concurrency with retry), merged', async () => {
      await create('k1');
      // As many racers as the handler has attempts: each lost race is another racer's win, so
      // every racer lands within its attempts whatever the timing (more racers could run out).
      await Promise.all(Array.from({ length: 5 }, () => add('k1', ids.green, 1)));
      const { events, streamVersion } = await shop.events.readStream('cart-k1');
      expect(streamVersion).toBe(6n);
      expect(events.map((e) => e.streamVersion)).toEqual(
        Array.from({ length: 6 }, (_, i) => BigInt(i + 1)),
      );
      expect(await shop.rows('SELECT product_id, quantity FROM cart_lines')).toEqual([
        { product_id: ids.green, quantity: 5 },
      ]);
    });
  });

  describe('checkout: one transaction over the cart stream and the orders tables', () => {
    async function fullCart(cartId = 'k1') {
      await create(cartId);
      await add(cartId, ids.green, 2);
      await add(cartId, ids.black, 1);
    }

    it('places the order at catalog prices, reserves stock, and closes the cart, all at once', async () => {
      await fullCart();
      const head = await shop.events.headPosition();
      const r = await checkOut('k1', 'o1', 'key-1');
      expect(r).toEqual({ orderId: 'o1', totalCents: 2 * 1250 + 900, position: head + 4n });

      // StockReserved ×2 and OrderPlaced on the order's stream, then CartCheckedOut: one commit.
      const log = (await shop.log()).filter((e) => e.position > head);
      expect(log.map((e) => [e.position - head, e.streamId, e.type])).toEqual([
        [1n, 'order-o1', 'StockReserved'],
        [2n, 'order-o1', 'StockReserved'],
        [3n, 'order-o1', 'OrderPlaced'],
        [4n, 'cart-k1', 'CartCheckedOut'],
      ]);
      expect(log[2]?.data).toMatchObject({
        orderId: 'o1',
        customerId: ids.ann,
        totalCents: 3400,
        items: [
          { productId: ids.green, name: 'Green tea', quantity: 2, unitPriceCents: 1250 },
          { productId: ids.black, name: 'Black tea', quantity: 1, unitPriceCents: 900 },
        ],
      });
      expect(log[3]?.data).toEqual({ v: 1, cartId: 'k1', orderId: 'o1', at: AT0 });
      expect(await shop.rows('SELECT id, customer_id, status, total_cents FROM orders')).toEqual([
        { id: 'o1', customer_id: ids.ann, status: 'placed', total_cents: 3400 },
      ]);
      expect(await inventory()).toEqual([
        { product_id: ids.black, warehouse: 'main', quantity: 2 },
        { product_id: ids.green, warehouse: 'main', quantity: 3 },
      ]);
      expect(await shop.rows('SELECT status, order_id FROM carts WHERE id = ?', 'k1')).toEqual([
        { status: 'checked_out', order_id: 'o1' },
      ]);

      // A closed cart refuses every change; nothing is stored.
      await refused(() => add('k1', ids.green, 1), 'CART_CLOSED');
      await refused(() => remove('k1', ids.green), 'CART_CLOSED');
      await refused(() => checkOut('k1', 'o2', 'key-2'), 'CART_CLOSED');
    });

    it('a refused stock reservation leaves the cart open and unchanged: no order, no stock change, no event', async () => {
      await fullCart();
      await add('k1', ids.green, 4); // 6 green wanted, 5 in stock
      await add('k1', ids.black, 3); // 4 black wanted, 3 in stock
      const cartBefore = await shop.stream('cart-k1');
      await refused(() => checkOut('k1', 'o1', 'key-1'), 'OUT_OF_STOCK', {
        lines: [
          { productId: ids.green, requested: 6, available: 5 },
          { productId: ids.black, requested: 4, available: 3 },
        ],
      });
      expect(await shop.stream('cart-k1')).toEqual(cartBefore);
      expect(await shop.stream('order-o1')).toEqual([]);
      expect(await shop.rows('SELECT status, line_count FROM carts')).toEqual([
        { status: 'open', line_count: 2 },
      ]);

      // The cart is still open: the customer fixes it, and the same key now goes through.
      await remove('k1', ids.black);
      await add('k1', ids.black, 3);
      await stock(ids.green, 6);
      const r = await checkOut('k1', 'o1', 'key-1');
      expect(r.totalCents).toBe(6 * 1250 + 3 * 900);
      expect((await inventory()).map((row) => row['quantity'])).toEqual([0, 0]);
    });

    it('a product deactivated after it was added stops the checkout (PRODUCT_INACTIVE), nothing stored', async () => {
      await fullCart();
      await shop.run({
        type: 'ChangeProductDetails',
        data: { productId: ids.black, active: false },
      });
      await refused(() => checkOut('k1', 'o1', 'key-1'), 'PRODUCT_INACTIVE', {
        productId: ids.black,
      });
    });

    it('prices come from the catalog at checkout, not from when the item was added', async () => {
      await fullCart();
      await shop.run({
        type: 'UpdateProductPrice',
        data: { productId: ids.green, priceCents: 1000 },
      });
      expect((await checkOut('k1', 'o1', 'key-1')).totalCents).toBe(2 * 1000 + 900);
    });

    it('refuses an empty cart with CART_EMPTY, storing nothing', async () => {
      await create('k1');
      await refused(() => checkOut('k1', 'o1', 'key-1'), 'CART_EMPTY');
      await add('k1', ids.green, 1);
      await remove('k1', ids.green);
      await refused(() => checkOut('k1', 'o1', 'key-1'), 'CART_EMPTY');
    });

    it('two concurrent checkouts of one cart make exactly one order', async () => {
      await fullCart();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => checkOut('k1', `o${i}`, `key-${i}`)),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason.code] : []));
      expect(won).toHaveLength(1);
      expect(lost).toEqual(Array(7).fill('CART_CLOSED'));
      expect(await shop.rows('SELECT COUNT(*) AS n FROM orders')).toEqual([{ n: 1 }]);
      expect((await inventory()).map((row) => row['quantity'])).toEqual([2, 3]);
      const cart = await shop.stream('cart-k1');
      expect(cart.filter((e) => e.type === 'CartCheckedOut')).toHaveLength(1);
    });

    it('the same key checks out once, even when sent twice at the same time', async () => {
      await fullCart();
      const [a, b] = await Promise.allSettled([
        checkOut('k1', 'o1', 'key-1'),
        checkOut('k1', 'o1', 'key-1'),
      ]);
      const results = [a, b].flatMap((o) => (o?.status === 'fulfilled' ? [o.value] : []));
      const codes = [a, b].flatMap((o) => (o?.status === 'rejected' ? [o.reason.code] : []));
      expect(results.length).toBeGreaterThanOrEqual(1);
      expect(codes.every((c) => c === 'IDEMPOTENCY_KEY_IN_USE')).toBe(true);
      expect(await shop.rows('SELECT COUNT(*) AS n FROM orders')).toEqual([{ n: 1 }]);
    });

    it('a replay of the same key and cart answers the first result; another cart with that key is refused', async () => {
      await fullCart();
      const first = await checkOut('k1', 'o1', 'key-1');
      const before = await snapshot();
      expect(await checkOut('k1', 'o1', 'key-1')).toEqual(first);
      expect(await snapshot()).toEqual(before);
      await fullCart('k2');
      await refused(() => checkOut('k2', 'o1', 'key-1'), 'IDEMPOTENCY_KEY_REUSED');
    });

    it('when another writer appended to the cart meanwhile, the whole checkout rolls back', async () => {
      // A store whose transactions see the cart one event behind, as a transaction that overlaps
      // another writer's would on PostgreSQL: the append's expected version then fails.
      await fullCart();
      const stale: WriteStore<Sql> = {
        ...shop.store,
        transact: (fn, options) =>
          shop.store.transact(
            (tx) =>
              fn({
                ...tx,
                readStream: async <E extends Event>(streamId: string, o?: ReadStreamOptions) => {
                  const r = await tx.readStream<E>(streamId, o);
                  return {
                    ...r,
                    events: r.events.slice(0, -1),
                    streamVersion: r.streamVersion - 1n,
                  };
                },
              }),
            options,
          ),
      };
      const handler = checkOutCart(stale);
      const command: ShopCommand & { type: 'CheckOutCart' } = {
        type: 'CheckOutCart',
        data: { cartId: 'k1', orderId: 'o1' },
      };
      await refused(
        () =>
          handler(command, {
            metadata: { actor: ids.ann, now: T0, commandId: 'c1', correlationId: 'c1' },
            idempotency: { key: 'key-1', fingerprint: 'f' },
          }),
        'CONCURRENCY_CONFLICT',
      );
    });
  });
});
