// A copy built from position 0 keeps only the indexes its projection reads while applying
// (`buildIndexes`); the others are created once it has caught up, under the copy's names.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import {
  type Event,
  mapReadStore,
  namesOf,
  type Projection,
  TableCopy,
} from '../../src/core/index.js';
import { catalogProjection } from '../../src/shop/catalog/projection.js';
import type { ProjectionDb } from '../../src/shop/read-db.js';
import {
  SqliteEventStore,
  SqliteReadStore,
  sqliteFullText,
  sqliteSql,
} from '../../src/stores/sqlite/index.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

it('builds a copy with only the indexes apply reads, and the rest once caught up', async () => {
  dir = mkdtempSync(join(tmpdir(), 'tworooms-deferred-'));
  const log = new SqliteEventStore({ path: join(dir, 'write.db') });
  const read = new SqliteReadStore({ path: join(dir, 'read.db') });
  const store = mapReadStore(
    read,
    (db): ProjectionDb => ({ sql: sqliteSql(db), fullText: sqliteFullText }),
  );
  const indexes = () =>
    read.db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name LIKE 'rm_catalog_%__g7' ORDER BY name",
      )
      .pluck()
      .all() as string[];
  try {
    const copy = new TableCopy({
      log,
      store,
      projection: catalogProjection,
      names: namesOf(catalogProjection as Projection<Event, unknown>, '__g7', '__g7'),
      generation: 7,
      batchSize: 100,
      skipped: new Set(),
    });
    await copy.create(['g']);
    expect(indexes()).toEqual(['rm_catalog_products_by_category__g7']);
    await copy.catchUp();
    await copy.buildIndexes();
    expect(indexes()).toEqual([
      'rm_catalog_categories_by_name__g7',
      'rm_catalog_products_by_category__g7',
      'rm_catalog_products_by_name__g7',
      'rm_catalog_products_by_rating__g7',
      'rm_catalog_products_by_sales__g7',
      'rm_catalog_products_by_stock__g7',
      'rm_catalog_products_by_update__g7',
    ]);
  } finally {
    await read.close();
    await log.close();
  }
});
