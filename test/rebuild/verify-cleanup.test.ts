// verify builds a scratch copy of a projection's tables beside the live ones: afterwards the read
// DB holds exactly what it held before (tables, their indexes, SQLite's full-text shadow tables,
// PostgreSQL's sequences), whether verify found the copies equal, found differences, or threw
// midway (in the rebuild or in the final comparison's transaction).
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openShopStores } from '../../src/cli/shop-files.js';
import { type Projection, type RecordedEvent, verifyProjection } from '../../src/core/index.js';
import { catalogProjection } from '../../src/shop/catalog/projection.js';
import type { ShopEvent } from '../../src/shop/events.js';
import { shopProjections } from '../../src/shop/query-handlers.js';
import type { ProjectionDb } from '../../src/shop/read-db.js';
import { onReadDb, type ShopFiles, STACKS, seedCatalog, shopFiles } from './shop.js';

let files: ShopFiles | undefined;
afterEach(async () => {
  await files?.remove();
  files = undefined;
});

/** Everything the read DB's schema holds, as sorted `kind name` lines. */
async function schema(f: ShopFiles): Promise<string[]> {
  if (f.stack === 'postgres') {
    const client = new pg.Client({ connectionString: f.config.readDb });
    await client.connect();
    try {
      // Tables, indexes (primary keys' too), sequences, views: every relation of the schema.
      const { rows } = await client.query<{ line: string }>(
        `SELECT relkind::text || ' ' || relname AS line FROM pg_class
          WHERE relnamespace = current_schema()::regnamespace ORDER BY line`,
      );
      return rows.map((r) => r.line);
    } finally {
      await client.end();
    }
  }
  const db = new Database(f.config.readDb, { readonly: true });
  try {
    // Tables (FTS5 tables and their shadows too), indexes (SQLite's automatic ones too), triggers.
    return db
      .prepare("SELECT type || ' ' || name FROM sqlite_master ORDER BY 1")
      .pluck()
      .all() as string[];
  } finally {
    db.close();
  }
}

/** A shop with a catalog, stopped: verify then runs on its files, as `tworooms verify` does. */
async function seeded(f: ShopFiles): Promise<{ productIds: string[] }> {
  const shop = await f.open();
  const { productIds } = await seedCatalog(shop, 12);
  await shop.call('PUT', `/api/products/${productIds[0]}/price`, { priceCents: 666 });
  await shop.shop.projector?.catchUp();
  await shop.close();
  return { productIds };
}

async function verify(f: ShopFiles, projection: Projection<ShopEvent, ProjectionDb>) {
  const stores = await openShopStores(f.config);
  try {
    return await verifyProjection({
      log: stores.write.log,
      store: stores.store,
      projection,
      batchSize: 4, // several batches, each its own transaction, before the final one
    });
  } finally {
    await stores.close();
  }
}

describe.each(STACKS)('verify leaves no scratch table behind (%s)', (stack) => {
  it('after a clean verify and after one that finds differences, of every projection', async () => {
    files = await shopFiles(stack);
    const { productIds } = await seeded(files);
    const before = await schema(files);
    expect(before.some((l) => l.includes('rm_catalog_products'))).toBe(true);

    for (const projection of shopProjections()) {
      const report = await verify(files, projection);
      expect({ name: projection.name, differing: report.differing }).toEqual({
        name: projection.name,
        differing: 0,
      });
      expect({ name: projection.name, schema: await schema(files) }).toEqual({
        name: projection.name,
        schema: before,
      });
    }

    await onReadDb(
      files,
      `UPDATE rm_catalog_products SET price_cents = 1 WHERE id = '${productIds[3]}';
       DELETE FROM rm_search_products WHERE id = '${productIds[4]}'`,
    );
    for (const name of ['catalog', 'search']) {
      const projection = shopProjections().find((p) => p.name === name)!;
      expect((await verify(files, projection)).differing).toBe(1);
      expect({ name, schema: await schema(files) }).toEqual({ name, schema: before });
    }
  });

  it('after a verify that throws in its rebuild or in its final transaction', async () => {
    files = await shopFiles(stack);
    await seeded(files);
    const before = await schema(files);

    // A catalog with a bug on the price of 666 (the live catalog applied it): the scratch copy
    // has several batches committed when it throws. Before throwing it looks at the schema, so
    // that the test knows its listing sees a scratch copy.
    let during: string[] = [];
    const failsInRebuild = {
      ...catalogProjection,
      async apply(
        events: readonly RecordedEvent<ShopEvent>[],
        db: Parameters<typeof catalogProjection.apply>[1],
      ) {
        if (events.some((e) => e.type === 'ProductPriceUpdated' && e.data.priceCents === 666)) {
          during = await schema(files!);
          throw new Error('the price of the beast');
        }
        return catalogProjection.apply(events, db);
      },
    };
    await expect(verify(files, failsInRebuild)).rejects.toThrow('the price of the beast');
    expect(during.filter((l) => /rm_catalog_products__v\d+$/.test(l))).toHaveLength(1);
    expect(await schema(files)).toEqual(before);

    // finishBuild runs in the final transaction, with the comparison: it rolls back.
    const failsInFinalTransaction = {
      ...catalogProjection,
      finishBuild: async () => {
        throw new Error('cannot derive the page marks');
      },
    };
    await expect(verify(files, failsInFinalTransaction)).rejects.toThrow(
      'cannot derive the page marks',
    );
    expect(await schema(files)).toEqual(before);
  });
});

describe.each(STACKS)('verify beside another verify (%s)', (stack) => {
  it('two verifies of one projection at once each find the difference, and leave nothing', async () => {
    files = await shopFiles(stack);
    const { productIds } = await seeded(files);
    const before = await schema(files);
    await onReadDb(files, `DELETE FROM rm_search_products WHERE id = '${productIds[4]}'`);
    const search = shopProjections().find((p) => p.name === 'search')!;
    // Each drops only its own scratch copy (they used to drop each other's as leftovers). One
    // set of stores: their transactions interleave batch by batch (two SQLite connections in
    // one thread would wait on each other's locks synchronously).
    const stores = await openShopStores(files.config);
    try {
      const once = (onProgress?: () => void) =>
        verifyProjection({
          log: stores.write.log,
          store: stores.store,
          projection: search,
          batchSize: 4,
          ...(onProgress ? { onProgress } : {}),
        });
      // The second starts once the first has its scratch copy (and some batches in it).
      let second: ReturnType<typeof once> | undefined;
      const first = once(() => {
        second ??= once();
      });
      const reports = [await first, await second];
      expect(reports.map((r) => r?.differing)).toEqual([1, 1]);
    } finally {
      await stores.close();
    }
    expect(await schema(files)).toEqual(before);
  });

  it('fails, saying so, when its scratch copy vanished, rather than compare nothing', async () => {
    files = await shopFiles(stack);
    const { productIds } = await seeded(files);
    await onReadDb(files, `DELETE FROM rm_search_products WHERE id = '${productIds[4]}'`);
    const search = shopProjections().find((p) => p.name === 'search')!;
    // As a projector starting in another process would: the scratch copy of one table is
    // dropped under the verify once it has caught up (here in the final transaction, by the
    // copy's own finishBuild, through the copy's names).
    const losesItsCopy = {
      ...search,
      finishBuild: (db: ProjectionDb) => db.sql.exec('DROP TABLE rm_search_products'),
    };
    await expect(verify(files, losesItsCopy)).rejects.toThrow(
      /scratch copy of rm_search_products vanished/,
    );
  });
});
