// `tworooms seed` on PostgreSQL: the same catalog as on the embedded store, as the API shows it
// (read models, and level-1 queries on the write DB), with the same events in the log.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { mapWriteStore, timeOrderedId } from '../src/core/index.js';
import { createShop, openReadSide, openWriteSide, openWriteStore } from '../src/main.js';
import { bulkSeed, bulkSeedEvents } from '../src/shop/bulk-seed.js';
import type { ListingItem } from '../src/shop/queries.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../src/stores/postgres/test-db.js';
import { sqliteFullText, sqliteSql } from '../src/stores/sqlite/index.js';

const run = promisify(execFile);
const TSX = join('node_modules', '.bin', 'tsx');
const CLI = join('src', 'cli', 'main.ts');
const reachable = await postgresReachable();
const PLAN = { products: 60, reviews: 500, categories: 4 };

/** What the API shows of the seeded catalog, keyed by product name (ids differ per seed). */
async function catalogSeen(env: Record<string, string>) {
  const shop = await createShop(loadConfig(env));
  try {
    if (shop.projector) expect((await shop.projector.catchUp(60_000)).reached).toBe(true);
    const get = async <T>(url: string): Promise<T> => {
      const res = await shop.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      return res.json() as T;
    };
    const items: ListingItem[] = [];
    for (let page = 1; ; page++) {
      const p = await get<{ items: ListingItem[]; total: number }>(`/api/catalog?page=${page}`);
      items.push(...p.items);
      if (p.items.length === 0 || items.length >= p.total) break;
    }
    const byName = Object.fromEntries(
      items.map(({ id: _, ...rest }) => [rest.name, rest] as const),
    );
    const first = items.find((i) => i.name.endsWith('#1'))!;
    const detail = await get<{ stock: number; ratingHistogram: unknown; recentReviews: unknown[] }>(
      `/api/products/${first.id}`,
    );
    const search = await get<{ total: number }>('/api/search?q=coffee');
    const head = await shop.store.headPosition();
    return {
      byName,
      count: items.length,
      detail: {
        stock: detail.stock,
        histogram: detail.ratingHistogram,
        recent: detail.recentReviews.length,
      },
      search: search.total,
      head,
    };
  } finally {
    await shop.close();
  }
}

describe.skipIf(!reachable)('tworooms seed on PostgreSQL', () => {
  let dbs: TestDatabase[] = [];
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tworooms-seedpg-'));
    dbs = await Promise.all([createTestDatabase('tw_seed_w'), createTestDatabase('tw_seed_r')]);
  });
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads the catalog the embedded seed loads: same items, search, detail and events', async () => {
    const sqliteEnv = { TWOROOMS_DATA_DIR: join(dir, 'sqlite') };
    const pgEnv = {
      TWOROOMS_DATA_DIR: join(dir, 'pg'),
      TWOROOMS_WRITE_DB: dbs[0]!.url,
      TWOROOMS_READ_DB: dbs[1]!.url,
    };
    // The reference: the embedded seed's function (its command projects on a worker thread,
    // which runs from the build only); the shop then projects it.
    const sqlite = await openWriteStore(loadConfig(sqliteEnv));
    try {
      await bulkSeed(mapWriteStore(sqlite, sqliteSql), sqliteFullText, {
        ...PLAN,
        newId: timeOrderedId,
        now: new Date(),
      });
    } finally {
      await sqlite.close();
    }
    // The command on PostgreSQL, which builds the read models as it writes.
    const args = ['seed', '--products', `${PLAN.products}`, '--reviews', `${PLAN.reviews}`];
    args.push('--categories', `${PLAN.categories}`);
    const { stdout } = await run(TSX, [CLI, ...args], { env: { ...process.env, ...pgEnv } });
    expect(stdout).toMatch(/^seeded 60 products, 500 reviews, \d+ events .*read models built/);
    // Caught up when the command ends: no event is left for the shop's projector to apply.
    const read = await openReadSide(loadConfig(pgEnv));
    try {
      const rows = await read
        .reader()
        .all<{ position: string }>('SELECT position FROM tworooms_checkpoints');
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(BigInt(r.position)).toBe(BigInt(bulkSeedEvents(PLAN)));
      // Analyzed once loaded: the planner has statistics for the first queries after the seed.
      const analyzed = `SELECT relname FROM pg_stat_user_tables
        WHERE relname IN ('products', 'reviews', 'rm_catalog_products') AND last_analyze IS NOT NULL
        ORDER BY relname`;
      expect(
        (await read.reader().all<{ relname: string }>(analyzed)).map((r) => r.relname),
      ).toEqual(['rm_catalog_products']);
      const write = await openWriteSide(loadConfig(pgEnv));
      try {
        const names = (await write.reader.all<{ relname: string }>(analyzed)).map((r) => r.relname);
        expect(names).toEqual(['products', 'reviews']);
      } finally {
        await write.close();
      }
    } finally {
      await read.close();
    }

    const embedded = await catalogSeen(sqliteEnv);
    const production = await catalogSeen(pgEnv);
    expect(embedded.count).toBe(PLAN.products);
    expect(embedded.head).toBe(BigInt(bulkSeedEvents(PLAN)));
    expect(embedded.search).toBeGreaterThan(0);
    expect(production).toEqual(embedded);
    // Level 1 (queries on the write DB's normalized tables) sees the same catalog.
    expect(await catalogSeen({ ...pgEnv, TWOROOMS_READS: 'write-db' })).toEqual(embedded);
  }, 120_000);

  it('refuses to seed while another process projects the read DB, with a one-line message', async () => {
    const env = {
      TWOROOMS_DATA_DIR: join(dir, 'pg'),
      TWOROOMS_WRITE_DB: dbs[0]!.url,
      TWOROOMS_READ_DB: dbs[1]!.url,
    };
    const shop = await createShop(loadConfig(env)); // holds every projection's lease
    try {
      const failure = await run(TSX, [CLI, 'seed', '--products', '1'], {
        env: { ...process.env, ...env },
      }).catch((e) => e);
      expect(failure.code).toBe(1);
      expect(failure.stderr.trim()).toMatch(
        /^tworooms: projection \w+ already runs in another process .*: stop it before seeding$/,
      );
    } finally {
      await shop.close();
    }
  }, 60_000);
});
