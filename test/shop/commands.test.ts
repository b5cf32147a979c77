import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TworoomsError } from '../../src/core/index.js';
import { ADMIN, type PlaceOrder, type ShopCommand } from '../../src/shop/commands.js';
import { ANONYMOUS, openShop, type Shop, STACKS, seedShop, T0 } from './write-harness.js';

describe.each(STACKS)('on %s', (stack) => {
  const T1 = new Date('2026-03-01T11:00:00.000Z');
  const AT0 = T0.toISOString();
  const AT1 = T1.toISOString();

  let shop: Shop;
  beforeEach(async () => {
    shop = await openShop({ stack });
  });
  afterEach(async () => {
    await shop.close();
  });

  /** The command is refused with `code` (and `details`, when given) and nothing is stored. */
  async function refused(
    command: ShopCommand,
    code: string,
    details?: unknown,
    metadata: Parameters<Shop['run']>[1] = {},
  ): Promise<TworoomsError> {
    const before = await shop.snapshot();
    const error = await shop.run(command, metadata).then(
      () => {
        throw new Error(`${command.type} was not refused`);
      },
      (e: TworoomsError) => e,
    );
    expect(error.code).toBe(code);
    if (details !== undefined) expect(error.details).toEqual(details);
    expect(await shop.snapshot()).toEqual(before);
    return error;
  }

  const product = async (id: string) =>
    (await shop.rows('SELECT * FROM products WHERE id = ?', id))[0] as Record<string, unknown>;
  const stock = (productId: string) =>
    shop.rows<{ warehouse: string; quantity: number }>(
      'SELECT warehouse, quantity FROM inventory WHERE product_id = ? ORDER BY warehouse',
      productId,
    );

  describe('CreateCategory', () => {
    it('stores the trimmed name and records CategoryCreated', async () => {
      const r = await shop.run({
        type: 'CreateCategory',
        data: { categoryId: 'c1', name: '  Green tea  ' },
      });
      expect(r).toEqual({ id: 'c1', position: 1n });
      expect(await shop.rows('SELECT * FROM categories')).toEqual([
        { id: 'c1', name: 'Green tea', created_at: T0.getTime() },
      ]);
      const [event] = (await shop.events.readStream('category-c1')).events;
      expect(event).toMatchObject({
        type: 'CategoryCreated',
        data: { v: 1, categoryId: 'c1', name: 'Green tea', at: AT0 },
        metadata: { actor: ADMIN },
      });
    });

    it('refuses an empty, blank or too long name, and a second category with the same id', async () => {
      for (const name of ['', '   ', 'x'.repeat(201)]) {
        await refused(
          { type: 'CreateCategory', data: { categoryId: 'c1', name } },
          'VALIDATION_FAILED',
          {
            field: 'name',
          },
        );
      }
      await shop.run({ type: 'CreateCategory', data: { categoryId: 'c1', name: 'x'.repeat(200) } });
      await refused(
        { type: 'CreateCategory', data: { categoryId: 'c1', name: 'Again' } },
        'VALIDATION_FAILED',
        { field: 'categoryId' },
      );
    });
  });

  describe('AddProduct', () => {
    beforeEach(async () => {
      await shop.run({ type: 'CreateCategory', data: { categoryId: 'c-tea', name: 'Tea' } });
      shop.fullText.calls.length = 0;
    });
    const add = (data: Partial<Extract<ShopCommand, { type: 'AddProduct' }>['data']> = {}) =>
      ({
        type: 'AddProduct',
        data: {
          productId: 'p1',
          sku: 'SKU-1',
          name: 'Sencha',
          description: 'A green tea',
          categoryId: 'c-tea',
          priceCents: 1000,
          ...data,
        },
      }) as const;

    it('stores the product, indexes it for search and records ProductAdded', async () => {
      const r = await shop.run(
        add({ maxAllowedPriceCents: 1500, thumbnailUrl: 'https://img.example/p1.png' }),
      );
      expect(r).toEqual({ id: 'p1', position: 2n });
      expect(await product('p1')).toEqual({
        id: 'p1',
        sku: 'SKU-1',
        name: 'Sencha',
        description: 'A green tea',
        category_id: 'c-tea',
        price_cents: 1000,
        max_allowed_price_cents: 1500,
        thumbnail_url: 'https://img.example/p1.png',
        active: 1,
        created_at: T0.getTime(),
        updated_at: T0.getTime(),
      });
      expect(shop.fullText.calls).toEqual([
        {
          op: 'upsert',
          index: 'products_fts',
          doc: { id: 'p1', title: 'Sencha', body: 'A green tea', extra: 'Tea' },
        },
      ]);
      expect(await shop.stream('product-p1')).toEqual([
        {
          type: 'ProductAdded',
          data: {
            v: 1,
            productId: 'p1',
            sku: 'SKU-1',
            name: 'Sencha',
            description: 'A green tea',
            categoryId: 'c-tea',
            priceCents: 1000,
            maxAllowedPriceCents: 1500,
            thumbnailUrl: 'https://img.example/p1.png',
            at: AT0,
          },
        },
      ]);
    });

    it('has no limit and no thumbnail unless given; a price equal to the limit is fine', async () => {
      await shop.run(add());
      expect(await product('p1')).toMatchObject({
        max_allowed_price_cents: null,
        thumbnail_url: null,
      });
      const [added] = await shop.stream('product-p1');
      expect(added?.data).toMatchObject({ maxAllowedPriceCents: null, thumbnailUrl: null });
      await shop.run(
        add({ productId: 'p2', sku: 'SKU-2', priceCents: 0, maxAllowedPriceCents: 0 }),
      );
      expect(await product('p2')).toMatchObject({ price_cents: 0, max_allowed_price_cents: 0 });
    });

    it('refuses an unknown category, a taken sku, bad prices and bad numbers, storing nothing', async () => {
      await refused(add({ categoryId: 'nope' }), 'NOT_FOUND', { categoryId: 'nope' });
      await shop.run(add());
      shop.fullText.calls.length = 0;
      await refused(add({ productId: 'p2' }), 'SKU_TAKEN', { sku: 'SKU-1' });
      await refused(add({ productId: 'p1', sku: 'SKU-9' }), 'VALIDATION_FAILED', {
        field: 'productId',
      });
      await refused(add({ productId: 'p2', sku: 'SKU-2', priceCents: -1 }), 'INVALID_PRICE', {
        priceCents: -1,
      });
      await refused(
        add({ productId: 'p2', sku: 'SKU-2', maxAllowedPriceCents: -5 }),
        'INVALID_PRICE',
        { maxAllowedPriceCents: -5 },
      );
      await refused(
        add({ productId: 'p2', sku: 'SKU-2', priceCents: 1001, maxAllowedPriceCents: 1000 }),
        'PRICE_EXCEEDS_LIMIT',
        { priceCents: 1001, maxAllowedPriceCents: 1000 },
      );
      for (const bad of [9.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '100']) {
        await refused(
          add({ productId: 'p2', sku: 'SKU-2', priceCents: bad as number }),
          'VALIDATION_FAILED',
          { field: 'priceCents' },
        );
        await refused(
          add({ productId: 'p2', sku: 'SKU-2', maxAllowedPriceCents: bad as number }),
          'VALIDATION_FAILED',
          { field: 'maxAllowedPriceCents' },
        );
      }
      await refused(add({ productId: 'p2', sku: ' ', name: 'x' }), 'VALIDATION_FAILED', {
        field: 'sku',
      });
      await refused(add({ productId: 'p2', sku: 'SKU-2', name: '' }), 'VALIDATION_FAILED', {
        field: 'name',
      });
      expect(shop.fullText.calls).toEqual([]);
    });
  });

  describe('UpdateProductPrice', () => {
    beforeEach(async () => {
      await seedShop(shop);
    });

    it('changes the price and updated_at and records the previous price', async () => {
      const head = await shop.events.headPosition();
      const r = await shop.run(
        { type: 'UpdateProductPrice', data: { productId: 'p-green', priceCents: 2000 } },
        { now: T1 },
      );
      expect(r).toEqual({ position: head + 1n });
      expect(await product('p-green')).toMatchObject({
        price_cents: 2000,
        created_at: T0.getTime(),
        updated_at: T1.getTime(),
      });
      expect((await shop.stream('product-p-green')).at(-1)).toEqual({
        type: 'ProductPriceUpdated',
        data: { v: 1, productId: 'p-green', priceCents: 2000, previousPriceCents: 1250, at: AT1 },
      });
      // No limit: any safe whole price.
      await shop.run({
        type: 'UpdateProductPrice',
        data: { productId: 'p-black', priceCents: Number.MAX_SAFE_INTEGER },
      });
      expect(await product('p-black')).toMatchObject({ price_cents: Number.MAX_SAFE_INTEGER });
    });

    it('records nothing when the price does not change', async () => {
      const head = await shop.events.headPosition();
      const r = await shop.run(
        { type: 'UpdateProductPrice', data: { productId: 'p-green', priceCents: 1250 } },
        { now: T1 },
      );
      expect(r).toEqual({ position: head });
      expect(await product('p-green')).toMatchObject({ updated_at: T0.getTime() });
    });

    it('refuses a negative price, one above the limit, an unknown product and bad numbers', async () => {
      const cmd = (productId: string, priceCents: number) =>
        ({ type: 'UpdateProductPrice', data: { productId, priceCents } }) as const;
      await refused(cmd('p-green', -1), 'INVALID_PRICE', { priceCents: -1 });
      await refused(cmd('p-green', 2001), 'PRICE_EXCEEDS_LIMIT', {
        priceCents: 2001,
        maxAllowedPriceCents: 2000,
      });
      await refused(cmd('nope', 100), 'NOT_FOUND', { productId: 'nope' });
      for (const bad of [0.5, Number.NaN, 2 ** 60, '5' as unknown as number]) {
        await refused(cmd('p-green', bad), 'VALIDATION_FAILED', { field: 'priceCents' });
      }
    });
  });

  describe('ChangeProductDetails', () => {
    beforeEach(async () => {
      await seedShop(shop);
    });
    const change = (
      data: Omit<Extract<ShopCommand, { type: 'ChangeProductDetails' }>['data'], 'productId'>,
    ) =>
      shop.run(
        { type: 'ChangeProductDetails', data: { productId: 'p-green', ...data } },
        { now: T1 },
      );
    const last = async (n = 1) => (await shop.stream('product-p-green')).slice(-n);

    it('records only the fields that changed and re-indexes name and description', async () => {
      await change({ name: 'Sencha', description: 'Sencha from Shizuoka', thumbnailUrl: null });
      expect(await last()).toEqual([
        {
          type: 'ProductDetailsChanged',
          data: { v: 1, productId: 'p-green', name: 'Sencha', at: AT1 },
        },
      ]);
      expect(await product('p-green')).toMatchObject({
        name: 'Sencha',
        description: 'Sencha from Shizuoka',
        updated_at: T1.getTime(),
      });
      expect(shop.fullText.calls).toEqual([
        {
          op: 'upsert',
          index: 'products_fts',
          doc: { id: 'p-green', title: 'Sencha', body: 'Sencha from Shizuoka', extra: 'Tea' },
        },
      ]);
    });

    it('moves a product to another category, naming the previous one', async () => {
      await change({ categoryId: 'c-cups' });
      expect(await last()).toEqual([
        {
          type: 'ProductDetailsChanged',
          data: {
            v: 1,
            productId: 'p-green',
            categoryId: 'c-cups',
            previousCategoryId: 'c-tea',
            at: AT1,
          },
        },
      ]);
      expect(await product('p-green')).toMatchObject({ category_id: 'c-cups' });
      expect(shop.fullText.calls).toEqual([
        {
          op: 'upsert',
          index: 'products_fts',
          doc: { id: 'p-green', title: 'Green tea', body: 'Sencha from Shizuoka', extra: 'Cups' },
        },
      ]);
    });

    it('sets and clears the thumbnail without touching the search index', async () => {
      await change({ thumbnailUrl: 'https://img.example/g.png' });
      await change({ thumbnailUrl: null });
      expect(await last(2)).toEqual([
        {
          type: 'ProductDetailsChanged',
          data: { v: 1, productId: 'p-green', thumbnailUrl: 'https://img.example/g.png', at: AT1 },
        },
        {
          type: 'ProductDetailsChanged',
          data: { v: 1, productId: 'p-green', thumbnailUrl: null, at: AT1 },
        },
      ]);
      expect(await product('p-green')).toMatchObject({ thumbnail_url: null });
      expect(shop.fullText.calls).toEqual([]);
    });

    it('records ProductDeactivated / ProductActivated only when the flag changes', async () => {
      await change({ active: false });
      expect(await product('p-green')).toMatchObject({ active: 0, updated_at: T1.getTime() });
      const head = await shop.events.headPosition();
      expect(await change({ active: false })).toEqual({ position: head });
      await change({ active: true, name: 'Gyokuro' });
      // the search index holds active products only
      expect(shop.fullText.calls).toEqual([
        { op: 'remove', index: 'products_fts', id: 'p-green' },
        {
          op: 'upsert',
          index: 'products_fts',
          doc: { id: 'p-green', title: 'Gyokuro', body: 'Sencha from Shizuoka', extra: 'Tea' },
        },
      ]);
      expect(await product('p-green')).toMatchObject({ active: 1, name: 'Gyokuro' });
      expect(await last(3)).toEqual([
        { type: 'ProductDeactivated', data: { v: 1, productId: 'p-green', at: AT1 } },
        {
          type: 'ProductDetailsChanged',
          data: { v: 1, productId: 'p-green', name: 'Gyokuro', at: AT1 },
        },
        { type: 'ProductActivated', data: { v: 1, productId: 'p-green', at: AT1 } },
      ]);
    });

    it('a change to the same values records nothing and keeps updated_at', async () => {
      const before = await shop.snapshot();
      const r = await change({
        name: 'Green tea',
        description: 'Sencha from Shizuoka',
        categoryId: 'c-tea',
        thumbnailUrl: null,
        active: true,
      });
      expect(r).toEqual({ position: before.head });
      expect(await shop.snapshot()).toEqual(before);
      expect(await change({})).toEqual({ position: before.head });
    });

    it('refuses an unknown product, an unknown category and bad fields', async () => {
      await refused(
        { type: 'ChangeProductDetails', data: { productId: 'nope', name: 'x' } },
        'NOT_FOUND',
        { productId: 'nope' },
      );
      await refused(
        {
          type: 'ChangeProductDetails',
          data: { productId: 'p-green', categoryId: 'c-none', name: 'x' },
        },
        'NOT_FOUND',
        { categoryId: 'c-none' },
      );
      await refused(
        { type: 'ChangeProductDetails', data: { productId: 'p-green', name: '  ' } },
        'VALIDATION_FAILED',
        { field: 'name' },
      );
      await refused(
        {
          type: 'ChangeProductDetails',
          data: { productId: 'p-green', active: 'no' as unknown as boolean },
        },
        'VALIDATION_FAILED',
        { field: 'active' },
      );
      expect(shop.fullText.calls).toEqual([]);
    });
  });

  describe('the level-1 search index (the real index of the store)', () => {
    beforeEach(async () => {
      await shop.close();
      shop = await openShop({ realFullText: true, stack });
      await seedShop(shop);
    });
    const change = (
      data: Omit<Extract<ShopCommand, { type: 'ChangeProductDetails' }>['data'], 'productId'>,
    ) => shop.run({ type: 'ChangeProductDetails', data: { productId: 'p-green', ...data } });

    it('finds active products by name, description and category name, as they change', async () => {
      expect(await shop.search('tea')).toEqual(['p-black', 'p-green']);
      expect(await shop.search('shizu')).toEqual(['p-green']);
      await change({ name: 'Gyokuro', description: 'Shaded', categoryId: 'c-cups' });
      expect(await shop.search('sencha')).toEqual([]);
      expect(await shop.search('gyokuro shaded')).toEqual(['p-green']);
      expect(await shop.search('cups')).toEqual(['p-green']);
      await change({ active: false });
      expect(await shop.search('gyokuro')).toEqual([]);
      // an inactive product's changes stay out of the index until it is active again
      await change({ name: 'Matcha' });
      expect(await shop.search('matcha')).toEqual([]);
      await change({ active: true });
      expect(await shop.search('matcha')).toEqual(['p-green']);
    });

    it('index writes share the command transaction: a failure after them undoes them', async () => {
      // A stray event on the new product's stream makes the final record fail (no_stream),
      // after the row and the index were written.
      await shop.events.append('product-p-x', [{ type: 'Stray', data: {} }]);
      const before = await shop.snapshot();
      await expect(
        shop.run({
          type: 'AddProduct',
          data: {
            productId: 'p-x',
            sku: 'TEA-OOLONG',
            name: 'Oolong',
            description: '',
            categoryId: 'c-tea',
            priceCents: 1,
          },
        }),
      ).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
      expect(shop.fullText.calls.map((c) => c.op)).toEqual(['upsert']);
      expect(await shop.search('oolong')).toEqual([]);
      expect(await shop.rows('SELECT count(*) AS n FROM products_fts')).toEqual([{ n: 2 }]);
      expect({ ...(await shop.snapshot()), fullTextCalls: before.fullTextCalls }).toEqual(before);
    });
  });

  describe('SetStockLevel', () => {
    beforeEach(async () => {
      await seedShop(shop);
    });

    it('upserts the units available per warehouse and records StockLevelSet', async () => {
      const set = (warehouse: string, quantity: number) =>
        shop.run(
          { type: 'SetStockLevel', data: { productId: 'p-green', warehouse, quantity } },
          { now: T1 },
        );
      await set('berlin', 5);
      await set('paris', 0);
      await set('berlin', 12);
      expect(await stock('p-green')).toEqual([
        { warehouse: 'berlin', quantity: 12 },
        { warehouse: 'paris', quantity: 0 },
      ]);
      expect(await product('p-green')).toMatchObject({ updated_at: T1.getTime() });
      expect((await shop.stream('product-p-green')).slice(1)).toEqual(
        [
          ['berlin', 5],
          ['paris', 0],
          ['berlin', 12],
        ].map(([warehouse, quantity]) => ({
          type: 'StockLevelSet',
          data: { v: 1, productId: 'p-green', warehouse, quantity, at: AT1 },
        })),
      );
    });

    it('refuses a negative or fractional quantity, a blank warehouse and an unknown product', async () => {
      const cmd = (productId: string, warehouse: string, quantity: number) =>
        ({ type: 'SetStockLevel', data: { productId, warehouse, quantity } }) as const;
      for (const q of [-1, 1.5, Number.NaN, 2 ** 53]) {
        await refused(cmd('p-green', 'berlin', q), 'VALIDATION_FAILED', { field: 'quantity' });
      }
      await refused(cmd('p-green', ' ', 1), 'VALIDATION_FAILED', { field: 'warehouse' });
      await refused(cmd('nope', 'berlin', 1), 'NOT_FOUND', { productId: 'nope' });
    });
  });

  describe('RegisterCustomer', () => {
    const register = (customerId: string, email: string, tokenHash = customerId.padEnd(64, '0')) =>
      ({
        type: 'RegisterCustomer',
        data: { customerId, email, name: ' Ann Lee ', tokenHash },
      }) as const;

    it('stores the email lower-cased and the token hash; the event carries neither', async () => {
      const r = await shop.run(register('c1', ' Ann.Lee@Example.COM '));
      expect(r).toEqual({ customerId: 'c1', position: 1n });
      expect(await shop.rows('SELECT * FROM customers')).toEqual([
        {
          id: 'c1',
          email: 'ann.lee@example.com',
          name: 'Ann Lee',
          token_hash: 'c1'.padEnd(64, '0'),
          created_at: T0.getTime(),
        },
      ]);
      expect(await shop.stream('customer-c1')).toEqual([
        { type: 'CustomerRegistered', data: { v: 1, customerId: 'c1', name: 'Ann Lee', at: AT0 } },
      ]);
    });

    it('refuses a taken email whatever its case, and bad input', async () => {
      await shop.run(register('c1', 'ann@example.com'));
      await refused(register('c2', 'ANN@example.com'), 'EMAIL_TAKEN');
      await refused(register('c2', 'not-an-email'), 'VALIDATION_FAILED', { field: 'email' });
      await refused(register('c2', 'b@example.com', 'XYZ'), 'VALIDATION_FAILED', {
        field: 'tokenHash',
      });
      await refused(register('c1', 'c@example.com', 'd'.repeat(64)), 'VALIDATION_FAILED', {
        field: 'customerId',
      });
    });
  });

  describe('CreateReview', () => {
    beforeEach(async () => {
      await seedShop(shop);
    });
    const review = (data: Partial<Extract<ShopCommand, { type: 'CreateReview' }>['data']> = {}) =>
      ({
        type: 'CreateReview',
        data: { reviewId: 'r1', productId: 'p-green', rating: 4, text: 'Grassy.', ...data },
      }) as const;

    it("stores the review and records ReviewCreated with the author's name", async () => {
      const r = await shop.run(review(), { actor: 'cu-ann', now: T1 });
      expect(r.id).toBe('r1');
      expect(await shop.rows('SELECT * FROM reviews')).toEqual([
        {
          id: 'r1',
          product_id: 'p-green',
          customer_id: 'cu-ann',
          rating: 4,
          text: 'Grassy.',
          created_at: T1.getTime(),
        },
      ]);
      expect((await shop.stream('product-p-green')).at(-1)).toEqual({
        type: 'ReviewCreated',
        data: {
          v: 1,
          reviewId: 'r1',
          productId: 'p-green',
          customerId: 'cu-ann',
          authorName: 'Ann',
          rating: 4,
          text: 'Grassy.',
          at: AT1,
        },
      });
      await shop.run(review({ reviewId: 'r2', rating: 5, text: 'x'.repeat(5000) }), {
        actor: 'cu-bob',
      });
    });

    it('refuses a non-customer, an unknown product, a bad rating and a too long text', async () => {
      await refused(review(), 'UNAUTHORIZED', undefined, { actor: ADMIN });
      await refused(review(), 'UNAUTHORIZED', undefined, { actor: 'cu-nobody' });
      await refused(review(), 'UNAUTHORIZED', undefined, ANONYMOUS);
      const ann = { actor: 'cu-ann' };
      await refused(review({ productId: 'nope' }), 'NOT_FOUND', { productId: 'nope' }, ann);
      for (const rating of [0, 6, 4.5, Number.NaN]) {
        await refused(review({ rating }), 'VALIDATION_FAILED', { field: 'rating' }, ann);
      }
      await refused(
        review({ text: 'x'.repeat(5001) }),
        'VALIDATION_FAILED',
        { field: 'text' },
        ann,
      );
    });
  });

  describe('PlaceOrder and CancelOrder', () => {
    beforeEach(async () => {
      await seedShop(shop);
      const set = (productId: string, warehouse: string, quantity: number) =>
        shop.run({ type: 'SetStockLevel', data: { productId, warehouse, quantity } });
      await set('p-green', 'berlin', 3);
      await set('p-green', 'paris', 5);
      await set('p-black', 'berlin', 4);
      await set('p-black', 'amsterdam', 4);
    });
    const order = (orderId: string, items: PlaceOrder['data']['items']): PlaceOrder => ({
      type: 'PlaceOrder',
      data: { orderId, items },
    });
    const ann = { actor: 'cu-ann', now: T1 };

    it('prices from the catalog, merges lines, takes from the fullest warehouse first', async () => {
      const r = await shop.run(
        order('o1', [
          { productId: 'p-green', quantity: 4 },
          { productId: 'p-black', quantity: 1 },
          // the client's price is not the catalog's: ignored
          { productId: 'p-green', quantity: 3, unitPriceCents: 1 } as never,
        ]),
        ann,
      );
      expect(r).toMatchObject({ orderId: 'o1', totalCents: 7 * 1250 + 900 });
      expect(r.position).toBe(await shop.events.headPosition());
      expect(await stock('p-green')).toEqual([
        { warehouse: 'berlin', quantity: 1 },
        { warehouse: 'paris', quantity: 0 },
      ]);
      // equal stock: by warehouse name
      expect(await stock('p-black')).toEqual([
        { warehouse: 'amsterdam', quantity: 3 },
        { warehouse: 'berlin', quantity: 4 },
      ]);
      expect(await shop.rows('SELECT * FROM orders')).toEqual([
        {
          id: 'o1',
          customer_id: 'cu-ann',
          status: 'placed',
          total_cents: 9650,
          created_at: T1.getTime(),
          updated_at: T1.getTime(),
        },
      ]);
      expect(await shop.rows('SELECT * FROM order_lines ORDER BY line_no')).toEqual([
        {
          order_id: 'o1',
          line_no: 1,
          product_id: 'p-green',
          name: 'Green tea',
          quantity: 7,
          unit_price_cents: 1250,
        },
        {
          order_id: 'o1',
          line_no: 2,
          product_id: 'p-black',
          name: 'Black tea',
          quantity: 1,
          unit_price_cents: 900,
        },
      ]);
      expect(
        await shop.rows(
          'SELECT product_id, warehouse, quantity FROM order_reservations ORDER BY product_id, warehouse',
        ),
      ).toEqual([
        { product_id: 'p-black', warehouse: 'amsterdam', quantity: 1 },
        { product_id: 'p-green', warehouse: 'berlin', quantity: 2 },
        { product_id: 'p-green', warehouse: 'paris', quantity: 5 },
      ]);
      const reserved = (productId: string, warehouse: string, quantity: number) => ({
        type: 'StockReserved',
        data: { v: 1, productId, orderId: 'o1', warehouse, quantity, at: AT1 },
      });
      expect(await shop.stream('order-o1')).toEqual([
        reserved('p-black', 'amsterdam', 1),
        reserved('p-green', 'paris', 5),
        reserved('p-green', 'berlin', 2),
        {
          type: 'OrderPlaced',
          data: {
            v: 1,
            orderId: 'o1',
            customerId: 'cu-ann',
            items: [
              { productId: 'p-green', name: 'Green tea', quantity: 7, unitPriceCents: 1250 },
              { productId: 'p-black', name: 'Black tea', quantity: 1, unitPriceCents: 900 },
            ],
            totalCents: 9650,
            at: AT1,
          },
        },
      ]);
      // a later price change does not reprice the order
      await shop.run({ type: 'UpdateProductPrice', data: { productId: 'p-green', priceCents: 1 } });
      expect(await shop.rows('SELECT unit_price_cents FROM order_lines WHERE line_no = 1')).toEqual(
        [{ unit_price_cents: 1250 }],
      );
    });

    it('names every short line in OUT_OF_STOCK and reserves nothing', async () => {
      await refused(
        order('o1', [
          { productId: 'p-green', quantity: 9 },
          { productId: 'p-black', quantity: 2 },
          { productId: 'p-black', quantity: 7 },
        ]),
        'OUT_OF_STOCK',
        {
          lines: [
            { productId: 'p-green', requested: 9, available: 8 },
            { productId: 'p-black', requested: 9, available: 8 },
          ],
        },
        ann,
      );
      // one short line among good ones: only it is named
      await refused(
        order('o1', [
          { productId: 'p-black', quantity: 1 },
          { productId: 'p-green', quantity: 100 },
        ]),
        'OUT_OF_STOCK',
        { lines: [{ productId: 'p-green', requested: 100, available: 8 }] },
        ann,
      );
    });

    it('refuses unknown or inactive products, bad lines and callers who are not customers', async () => {
      await refused(
        order('o1', [
          { productId: 'p-green', quantity: 1 },
          { productId: 'nope', quantity: 1 },
        ]),
        'NOT_FOUND',
        { productId: 'nope' },
        ann,
      );
      await shop.run({
        type: 'ChangeProductDetails',
        data: { productId: 'p-black', active: false },
      });
      await refused(
        order('o1', [{ productId: 'p-black', quantity: 1 }]),
        'PRODUCT_INACTIVE',
        { productId: 'p-black' },
        ann,
      );
      await refused(order('o1', []), 'VALIDATION_FAILED', { field: 'items' }, ann);
      const many = Array.from({ length: 101 }, () => ({ productId: 'p-green', quantity: 1 }));
      await refused(order('o1', many), 'VALIDATION_FAILED', { field: 'items' }, ann);
      for (const quantity of [0, -1, 1.5, Number.NaN]) {
        await refused(
          order('o1', [{ productId: 'p-green', quantity }]),
          'VALIDATION_FAILED',
          { productId: 'p-green' },
          ann,
        );
      }
      const one = order('o1', [{ productId: 'p-green', quantity: 1 }]);
      await refused(one, 'UNAUTHORIZED', undefined, { actor: ADMIN });
      await refused(one, 'UNAUTHORIZED', undefined, { actor: 'cu-nobody' });
      // 100 lines are fine (merged into one)
      const hundred = Array.from({ length: 100 }, () => ({ productId: 'p-green', quantity: 1 }));
      await refused(
        order('o1', hundred),
        'OUT_OF_STOCK',
        {
          lines: [{ productId: 'p-green', requested: 100, available: 8 }],
        },
        ann,
      );
      await shop.run({
        type: 'SetStockLevel',
        data: { productId: 'p-green', warehouse: 'paris', quantity: 97 },
      });
      await expect(shop.run(order('o1', hundred), ann)).resolves.toMatchObject({
        orderId: 'o1',
        totalCents: 100 * 1250,
      });
      expect(await shop.rows('SELECT line_no, quantity FROM order_lines')).toEqual([
        { line_no: 1, quantity: 100 },
      ]);
      // An id the caller names is checked (a new one the handler makes cannot be taken).
      await refused(
        order('o1', [{ productId: 'p-green', quantity: 1 }]),
        'VALIDATION_FAILED',
        { field: 'orderId' },
        ann,
      );
    });

    it('cancel puts exactly the reserved units back; a second cancel is refused', async () => {
      await shop.run(
        order('o1', [
          { productId: 'p-green', quantity: 6 },
          { productId: 'p-black', quantity: 1 },
        ]),
        ann,
      );
      await shop.run(
        { type: 'SetStockLevel', data: { productId: 'p-green', warehouse: 'paris', quantity: 10 } },
        ann,
      );
      const r = await shop.run(
        { type: 'CancelOrder', data: { orderId: 'o1' } },
        { actor: 'cu-ann', now: T1 },
      );
      expect(r).toEqual({ position: await shop.events.headPosition() });
      // paris gave 5 (then was recounted to 10), berlin gave 1, amsterdam gave 1
      expect(await stock('p-green')).toEqual([
        { warehouse: 'berlin', quantity: 3 },
        { warehouse: 'paris', quantity: 15 },
      ]);
      expect(await stock('p-black')).toEqual([
        { warehouse: 'amsterdam', quantity: 4 },
        { warehouse: 'berlin', quantity: 4 },
      ]);
      expect(await shop.rows('SELECT status, updated_at FROM orders')).toEqual([
        { status: 'cancelled', updated_at: T1.getTime() },
      ]);
      expect(await shop.rows('SELECT * FROM order_reservations')).toEqual([]);
      const released = (productId: string, warehouse: string, quantity: number) => ({
        type: 'StockReleased',
        data: { v: 1, productId, orderId: 'o1', warehouse, quantity, at: AT1 },
      });
      expect((await shop.stream('order-o1')).slice(4)).toEqual([
        released('p-black', 'amsterdam', 1),
        released('p-green', 'berlin', 1),
        released('p-green', 'paris', 5),
        {
          type: 'OrderCancelled',
          data: {
            v: 1,
            orderId: 'o1',
            customerId: 'cu-ann',
            items: [
              { productId: 'p-green', name: 'Green tea', quantity: 6, unitPriceCents: 1250 },
              { productId: 'p-black', name: 'Black tea', quantity: 1, unitPriceCents: 900 },
            ],
            totalCents: 6 * 1250 + 900,
            at: AT1,
          },
        },
      ]);
      await refused(
        { type: 'CancelOrder', data: { orderId: 'o1' } },
        'ORDER_NOT_CANCELLABLE',
        { orderId: 'o1', status: 'cancelled' },
        ann,
      );
      await refused(
        { type: 'CancelOrder', data: { orderId: 'o1' } },
        'ORDER_NOT_CANCELLABLE',
        undefined,
        { actor: ADMIN },
      );
    });

    it("only the owner or an admin can cancel; others are told the order doesn't exist", async () => {
      await shop.run(order('o1', [{ productId: 'p-green', quantity: 1 }]), ann);
      const cancel = { type: 'CancelOrder', data: { orderId: 'o1' } } as const;
      await refused(cancel, 'NOT_FOUND', { orderId: 'o1' }, { actor: 'cu-bob' });
      await refused(cancel, 'NOT_FOUND', { orderId: 'o1' }, ANONYMOUS);
      await refused(
        { type: 'CancelOrder', data: { orderId: 'o-none' } },
        'NOT_FOUND',
        { orderId: 'o-none' },
        ann,
      );
      await shop.run(cancel, { actor: ADMIN });
      expect(await stock('p-green')).toEqual([
        { warehouse: 'berlin', quantity: 3 },
        { warehouse: 'paris', quantity: 5 },
      ]);
      const [cancelled] = (await shop.events.readStream('order-o1')).events.slice(-1);
      expect(cancelled).toMatchObject({ type: 'OrderCancelled', metadata: { actor: ADMIN } });
    });

    it('a repeated idempotency key answers the first result and makes no second order', async () => {
      const cmd = order('o1', [{ productId: 'p-green', quantity: 2 }]);
      const first = await shop.run(cmd, { ...ann, idempotencyKey: 'k1' });
      const head = await shop.events.headPosition();
      const again = await shop.run(cmd, { ...ann, idempotencyKey: 'k1' });
      expect(again).toEqual(first);
      expect(first).toEqual({ orderId: 'o1', totalCents: 2500, position: head });
      expect(await shop.events.headPosition()).toBe(head);
      expect(await shop.rows('SELECT id FROM orders')).toEqual([{ id: 'o1' }]);
      expect((await stock('p-green')).reduce((n, s) => n + s.quantity, 0)).toBe(6);
      await refused(
        order('o2', [{ productId: 'p-green', quantity: 1 }]),
        'IDEMPOTENCY_KEY_REUSED',
        undefined,
        {
          ...ann,
          idempotencyKey: 'k1',
        },
      );
      // a refused order stores no key: the same key can be used for the corrected request
      const tooMany = order('o3', [{ productId: 'p-green', quantity: 99 }]);
      await refused(tooMany, 'OUT_OF_STOCK', undefined, { ...ann, idempotencyKey: 'k2' });
    });

    it('200 racing orders for 50 units in two warehouses: exactly 50 win, stock never below 0', async () => {
      await shop.run({
        type: 'AddProduct',
        data: {
          productId: 'p-hot',
          sku: 'HOT',
          name: 'Flash sale tea',
          description: '',
          categoryId: 'c-tea',
          priceCents: 100,
        },
      });
      await shop.run({
        type: 'SetStockLevel',
        data: { productId: 'p-hot', warehouse: 'berlin', quantity: 30 },
      });
      await shop.run({
        type: 'SetStockLevel',
        data: { productId: 'p-hot', warehouse: 'paris', quantity: 20 },
      });
      const head = await shop.events.headPosition();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 200 }, (_, i) =>
          shop.run(order(`race-${i}`, [{ productId: 'p-hot', quantity: 1 }]), {
            actor: i % 2 ? 'cu-ann' : 'cu-bob',
            now: T1,
            idempotencyKey: `race-${i}`,
          }),
        ),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.flatMap((o) =>
        o.status === 'rejected' ? [o.reason as TworoomsError] : [],
      );
      expect(won).toHaveLength(50);
      expect(lost).toHaveLength(150);
      for (const e of lost) {
        expect(e.code).toBe('OUT_OF_STOCK');
        expect(e.details).toEqual({ lines: [{ productId: 'p-hot', requested: 1, available: 0 }] });
      }
      expect(await stock('p-hot')).toEqual([
        { warehouse: 'berlin', quantity: 0 },
        { warehouse: 'paris', quantity: 0 },
      ]);
      const appended = (await shop.log()).filter((e) => e.position > head);
      const reserved = appended.filter((e) => e.type === 'StockReserved');
      expect(reserved.reduce((n, e) => n + (e.data['quantity'] as number), 0)).toBe(50);
      const byWarehouse = (w: string) => reserved.filter((e) => e.data['warehouse'] === w).length;
      expect([byWarehouse('berlin'), byWarehouse('paris')]).toEqual([30, 20]);
      expect(appended.filter((e) => e.type === 'OrderPlaced')).toHaveLength(50);
      expect(await shop.rows("SELECT count(*) AS n FROM orders WHERE id LIKE 'race-%'")).toEqual([
        { n: 50 },
      ]);
      expect(await shop.rows('SELECT sum(quantity) AS n FROM order_reservations')).toEqual([
        { n: 50 },
      ]);
      expect(await shop.rows('SELECT count(*) AS n FROM idempotency_keys')).toEqual([{ n: 50 }]);

      // cancelling one winner frees its unit for the next order
      const winner = (won[0] as PromiseFulfilledResult<{ orderId: string }>).value.orderId;
      const owner = (
        await shop.rows<{ customer_id: string }>(
          'SELECT customer_id FROM orders WHERE id = ?',
          winner,
        )
      )[0]!;
      await shop.run(
        { type: 'CancelOrder', data: { orderId: winner } },
        { actor: owner.customer_id },
      );
      await expect(
        shop.run(order('late', [{ productId: 'p-hot', quantity: 1 }]), ann),
      ).resolves.toMatchObject({ totalCents: 100 });
      await refused(
        order('later', [{ productId: 'p-hot', quantity: 1 }]),
        'OUT_OF_STOCK',
        undefined,
        ann,
      );
    });
  });
});
