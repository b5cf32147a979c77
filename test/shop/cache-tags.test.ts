/**
 * The catalog's cache tags from what the catalog projection reports per batch: a stock change
 * that leaves a product available (or unavailable) drops only its document, one that crosses
 * zero every listing of it; a review drops its category's documents (their related lists) even
 * in a process that never saw the product added. Without the report, the tags stay coarse.
 */
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/core/messages.js';
import { CatalogCacheTags } from '../../src/shop/cache-tags.js';
import { type CatalogApplied, catalogProjection } from '../../src/shop/catalog/projection.js';
import type { ShopEvent } from '../../src/shop/events.js';
import { SqliteReadStore, sqliteFullText, sqliteSql } from '../../src/stores/sqlite/index.js';

const at = '2025-03-01T00:00:00.000Z';
let position = 0n;
const recorded = (events: ShopEvent[]) =>
  events.map((e) => {
    position++;
    return {
      ...e,
      id: `e${position}`,
      streamId: 'any',
      streamVersion: position,
      position,
      recordedAt: new Date(at),
      metadata: {},
    };
  }) as RecordedEvent<ShopEvent>[];

const added = (productId: string, categoryId: string): ShopEvent => ({
  type: 'ProductAdded',
  data: {
    v: 1,
    productId,
    sku: productId,
    name: productId,
    description: '',
    categoryId,
    priceCents: 100,
    maxAllowedPriceCents: null,
    thumbnailUrl: null,
    at,
  },
});
const stockSet = (productId: string, quantity: number, warehouse = 'w1'): ShopEvent => ({
  type: 'StockLevelSet',
  data: { v: 1, productId, warehouse, quantity, at },
});
const reserved = (productId: string, quantity: number, warehouse = 'w1'): ShopEvent => ({
  type: 'StockReserved',
  data: { v: 1, productId, orderId: 'o1', warehouse, quantity, at },
});
const released = (productId: string, quantity: number, warehouse = 'w1'): ShopEvent => ({
  type: 'StockReleased',
  data: { v: 1, productId, orderId: 'o1', warehouse, quantity, at },
});
const review = (productId: string): ShopEvent => ({
  type: 'ReviewCreated',
  data: {
    v: 1,
    reviewId: `r${position}`,
    productId,
    customerId: 'c',
    authorName: 'A',
    rating: 4,
    text: '',
    at,
  },
});

describe('catalog cache tags with the projection report', () => {
  it('drop listings only when availability flips; related lists by the reported category', async () => {
    const store = new SqliteReadStore({ path: ':memory:' });
    const db = (d: Database.Database) => ({ sql: sqliteSql(d), fullText: sqliteFullText });
    await store.transact((tx) => catalogProjection.setup?.(db(tx.db)));
    const apply = async (events: ShopEvent[]) => {
      let applied: CatalogApplied | undefined;
      const batch = recorded(events);
      await store.transact(async (tx) => {
        applied = (await catalogProjection.apply(batch, db(tx.db))) as CatalogApplied;
      });
      return { batch, applied: applied! };
    };
    await apply([
      {
        type: 'CategoryCreated',
        data: { v: 1, categoryId: 'tea', name: 'Tea', at },
      },
      added('p1', 'tea'),
      added('p2', 'tea'),
      stockSet('p1', 3),
    ]);
    // A process started after the products were added (it never saw ProductAdded).
    const tags = new CatalogCacheTags();
    const tagsOf = async (events: ShopEvent[]) => {
      const { batch, applied } = await apply(events);
      return {
        withReport: tags.tagsFor(batch, applied),
        raw: new CatalogCacheTags().tagsFor(batch),
      };
    };

    expect(await tagsOf([reserved('p1', 1)])).toEqual({
      withReport: ['stock:p1'], // 3 → 2: still available
      raw: ['product:p1'],
    });
    expect((await tagsOf([reserved('p1', 2)])).withReport).toEqual(['product:p1']); // 2 → 0
    expect((await tagsOf([stockSet('p1', 0, 'w2')])).withReport).toEqual(['stock:p1']); // 0 → 0
    expect((await tagsOf([released('p1', 1)])).withReport).toEqual(['product:p1']); // 0 → 1
    // Down to zero and back within one batch: what listings show did not change.
    expect((await tagsOf([reserved('p1', 1), stockSet('p1', 5)])).withReport).toEqual(['stock:p1']);
    // A batch with a stock change that keeps p1 available and a review of it: both tags.
    expect((await tagsOf([reserved('p1', 1), review('p1')])).withReport.sort()).toEqual(
      ['product:p1', 'related:tea', 'stock:p1'].sort(),
    );
    // A review: its category's documents, not every document ('docs') as without the report.
    expect(await tagsOf([review('p2')])).toEqual({
      withReport: ['product:p2', 'related:tea'],
      raw: ['product:p2', 'docs'],
    });
    const { batch } = await apply([
      { type: 'ProductDeactivated', data: { v: 1, productId: 'p2', at } },
    ]);
    // Learned from the earlier report, even without this batch's.
    expect(tags.tagsFor(batch).sort()).toEqual(
      ['product:p2', 'category:*', 'category:tea', 'related:tea'].sort(),
    );
    await store.close();
  });
});
