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

/** The same projection, without its `buildIndexes`. */
function withoutBuildIndexes<E extends Event, H>(p: Projection<E, H>): Projection<E, H> {
  const { buildIndexes: _, ...rest } = p;
  return rest;
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const ALL = [
  'rm_catalog_categories_by_name__g7',
  'rm_catalog_products_by_category__g7',
  'rm_catalog_products_by_name__g7',
  'rm_catalog_products_by_rating__g7',
  'rm_catalog_products_by_sales__g7',
  'rm_catalog_products_by_stock__g7',
  'rm_catalog_products_by_update__g7',
];

it.each([
  ['says which indexes apply reads (none)', catalogProjection, []],
  ['does not say which indexes apply reads', withoutBuildIndexes(catalogProjection), ALL],
])(
  'builds a copy of a projection that %s with those indexes, the rest once caught up',
  async (_, projection, kept) => {
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
        projection,
        names: namesOf(projection as Projection<Event, unknown>, '__g7', '__g7'),
        generation: 7,
        batchSize: 100,
        skipped: new Set(),
      });
      await copy.create(['g']);
      expect(indexes()).toEqual(kept);
      await copy.catchUp();
      await copy.buildIndexes();
      expect(indexes()).toEqual(ALL);
    } finally {
      await read.close();
      await log.close();
    }
  },
);
