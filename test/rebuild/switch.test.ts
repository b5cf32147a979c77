// Blue/green switch on both stacks: a rebuilt copy replaces the live one in one transaction,
// indexes keep their generation's names, full-text tables move (SQLite's FTS5 with its
// shadows), nothing of the old copy is left, and a restart adds no index.
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/core/index.js';
import { catalogProjection } from '../../src/shop/catalog/projection.js';
import type { ShopEvent } from '../../src/shop/events.js';
import { shopProjections } from '../../src/shop/query-handlers.js';
import { onReadDb, type ShopFiles, STACKS, seedCatalog, shopFiles, until } from './shop.js';

let files: ShopFiles | undefined;
afterEach(async () => {
  await files?.remove();
  files = undefined;
});

/** The read DB's tables and indexes (not those a primary key makes: they follow their table). */
async function schema(f: ShopFiles): Promise<{ tables: string[]; indexes: string[] }> {
  if (f.stack === 'postgres') {
    const client = new pg.Client({ connectionString: f.config.readDb });
    await client.connect();
    try {
      const names = async (sql: string) =>
        (await client.query<{ name: string }>(sql)).rows.map((r) => r.name).sort();
      return {
        tables: await names(
          'SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()',
        ),
        indexes: await names(
          "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND indexname NOT LIKE '%_pkey'",
        ),
      };
    } finally {
      await client.end();
    }
  }
  const db = new Database(f.config.readDb, { readonly: true });
  try {
    const names = (type: string) =>
      db
        .prepare("SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%'")
        .pluck()
        .all(type) as string[];
    return { tables: names('table').sort(), indexes: names('index').sort() };
  } finally {
    db.close();
  }
}

describe.each(STACKS)('blue/green rebuild (%s)', (stack) => {
  it('switches catalog and search copies atomically and cleans up', async () => {
    files = await shopFiles(stack);
    const shop = await files.open();
    const { productIds } = await seedCatalog(shop, 30);
    await shop.call('PUT', `/api/products/${productIds[0]}/price`, { priceCents: 999 });
    await shop.shop.projector?.catchUp();
    const before = await shop.call('GET', '/api/catalog?page=2');
    const searchBefore = await shop.call('GET', '/api/search?q=green');
    const schemaBefore = await schema(files);

    await shop.shop.projector?.rebuild('catalog');
    await shop.shop.projector?.rebuild('search');
    const status = await shop.call('GET', '/api/admin/projections');
    const catalog = status.body.find((s: { name: string }) => s.name === 'catalog');
    expect(catalog).toMatchObject({ generation: 1, rebuild: { phase: 'done', generation: 1 } });
    expect(catalog.rebuild.events).toBeGreaterThan(30);

    expect((await shop.call('GET', '/api/catalog?page=2')).body).toEqual(before.body);
    expect((await shop.call('GET', '/api/search?q=green')).body).toEqual(searchBefore.body);
    const after = await schema(files);
    expect(after.tables).toEqual(schemaBefore.tables); // same tables, no copy left behind
    expect(after.indexes.filter((i) => i.startsWith('rm_catalog_'))).toEqual(
      schemaBefore.indexes.filter((i) => i.startsWith('rm_catalog_')).map((i) => `${i}__g1`),
    );

    // Writes after the switch land in the new copy.
    await shop.call('PUT', `/api/products/${productIds[1]}/price`, { priceCents: 1234 });
    await shop.shop.projector?.catchUp();
    const detail = await shop.call('GET', `/api/products/${productIds[1]}`);
    expect(detail.body.priceCents).toBe(1234);
    await shop.close();

    // A restart sets up generation 1's names: no second set of indexes.
    const again = await files.open();
    expect((await schema(files)).indexes).toEqual(after.indexes);
    await again.shop.projector?.rebuild('catalog');
    const third = await schema(files);
    expect(third.tables).toEqual(after.tables);
    expect(third.indexes.filter((i) => i.startsWith('rm_catalog_'))).toEqual(
      after.indexes
        .filter((i) => i.startsWith('rm_catalog_'))
        .map((i) => i.replace('__g1', '__g2')),
    );
    expect((await again.call('GET', `/api/products/${productIds[1]}`)).body.priceCents).toBe(1234);
    await again.close();
  });

  it('answers 404 for an unknown projection and 202 with progress for a known one', async () => {
    files = await shopFiles(stack);
    const shop = await files.open();
    await seedCatalog(shop, 3);
    const missing = await shop.call('POST', '/api/admin/projections/nope/rebuild');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    const started = await shop.call('POST', '/api/admin/projections/orders/rebuild');
    expect(started).toEqual({ status: 202, body: { name: 'orders', status: 'rebuilding' } });
    await until(async () => {
      const s = await shop.call('GET', '/api/admin/projections');
      return s.body.find((p: { name: string }) => p.name === 'orders')?.rebuild?.phase === 'done';
    });
    await shop.shop.projector?.catchUp();
    // After a switch the loop reads the log once more before it calls itself live.
    const scrape = () => shop.shop.app.inject({ method: 'GET', url: '/metrics' });
    await until(async () =>
      (await scrape()).body.includes(
        'tworooms_projection_state{projection="orders",state="live"} 1',
      ),
    );
    const metrics = await scrape();
    for (const line of [
      'tworooms_projection_rebuild_progress_ratio{projection="orders"} 1',
      'tworooms_projection_state{projection="orders",state="live"} 1',
      'tworooms_projection_lag_seconds{projection="catalog"} 0',
      'tworooms_projection_lag_events{projection="catalog"} 0',
    ])
      expect(metrics.body).toContain(line);
    expect(metrics.body).toMatch(/tworooms_projection_events_total\{projection="catalog"\} [1-9]/);
    expect(metrics.body).toMatch(
      /tworooms_projection_rebuild_events_per_second\{projection="orders"\} \d/,
    );
    await shop.close();
  });

  it('drops a copy that fails while the live copy serves on, and one a crash left behind', async () => {
    files = await shopFiles(stack);
    let broken = false;
    const catalog = {
      ...catalogProjection,
      apply(
        events: readonly RecordedEvent<ShopEvent>[],
        db: Parameters<typeof catalogProjection.apply>[1],
      ) {
        if (broken) throw new Error('a bug in the new copy');
        return catalogProjection.apply(events, db);
      },
    };
    const projections = [catalog, ...shopProjections().filter((p) => p.name !== 'catalog')];
    let shop = await files.open({ projections });
    await seedCatalog(shop, 5);
    await shop.shop.projector?.catchUp();
    const before = await shop.call('GET', '/api/catalog');
    const tables = (await schema(files)).tables;
    broken = true;
    await expect(shop.shop.projector?.rebuild('catalog')).rejects.toThrow('a bug in the new copy');
    const status = (await shop.call('GET', '/api/admin/projections')).body.find(
      (s: { name: string }) => s.name === 'catalog',
    );
    expect(status).toMatchObject({
      status: 'live',
      rebuild: { phase: 'failed', error: 'a bug in the new copy' },
    });
    expect(status.generation).toBeUndefined();
    expect((await schema(files)).tables).toEqual(tables);
    expect((await shop.call('GET', '/api/catalog')).body).toEqual(before.body);
    broken = false;
    await shop.shop.projector?.rebuild('catalog');
    await shop.close();

    // A crash mid-rebuild leaves a copy behind: the next start drops it.
    await onReadDb(
      files,
      'CREATE TABLE rm_orders__g7 (x INTEGER); CREATE INDEX rm_orders_by_x__g7 ON rm_orders__g7 (x)',
    );
    shop = await files.open({ projections });
    expect((await schema(files)).tables).toEqual(tables);
    expect((await shop.call('GET', '/api/catalog')).body).toEqual(before.body);
    await shop.close();
  });
});
