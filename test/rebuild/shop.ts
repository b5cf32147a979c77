// A real shop driven through app.inject, for the rebuild suites: embedded (SQLite files in a
// temp dir) or on two fresh PostgreSQL databases; it can be closed and opened again on the same
// stores with other projections.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Static } from 'typebox';
import { type Config, loadConfig } from '../../src/config.js';
import type { Projection, RecordedEvent } from '../../src/core/index.js';
import type { ProjectionStatus } from '../../src/http/schemas.js';
import { createShop, type Shop } from '../../src/main.js';
import { catalogProjection } from '../../src/shop/catalog/projection.js';
import type { ShopEvent } from '../../src/shop/events.js';
import type { ProjectionDb } from '../../src/shop/read-db.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';

export type Stack = 'sqlite' | 'postgres';
/** Every stack this machine can run (PostgreSQL when reachable; under CI it must be). */
export const STACKS: readonly Stack[] = (await postgresReachable())
  ? ['sqlite', 'postgres']
  : ['sqlite'];

export const ADMIN = 'admin-rebuild-test';

export interface ShopFiles {
  readonly dir: string;
  readonly stack: Stack;
  readonly config: Config;
  /** The settings that point a `tworooms` child process at these stores. */
  readonly env: Record<string, string>;
  open(options?: {
    projections?: readonly Projection<ShopEvent, ProjectionDb>[];
    batchSize?: number;
  }): Promise<TestShop>;
  remove(): Promise<void>;
}

export interface TestShop {
  readonly shop: Shop;
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field in the tests
  call(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** A data directory (and on PostgreSQL two databases) for one test; `open` starts a shop on it. */
export async function shopFiles(stack: Stack = 'sqlite'): Promise<ShopFiles> {
  const dir = mkdtempSync(join(tmpdir(), 'tworooms-rebuild-'));
  const dbs: TestDatabase[] =
    stack === 'postgres'
      ? await Promise.all([
          createTestDatabase('tworooms_rebuild_write'),
          createTestDatabase('tworooms_rebuild_read'),
        ])
      : [];
  const env: Record<string, string> = {
    TWOROOMS_DATA_DIR: dir,
    TWOROOMS_ADMIN_TOKEN: ADMIN,
    ...(dbs[0] && dbs[1] ? { TWOROOMS_WRITE_DB: dbs[0].url, TWOROOMS_READ_DB: dbs[1].url } : {}),
  };
  const config = loadConfig({ ...env, TWOROOMS_CACHE_TTL_MS: '60000' });
  return {
    dir,
    stack,
    config,
    env,
    async open(options = {}) {
      const shop = await createShop(config, { logger: false, ...options });
      return {
        shop,
        async call(method, url, body) {
          const res = await shop.app.inject({
            method: method as 'GET',
            url,
            headers: { authorization: `Bearer ${ADMIN}` },
            ...(body === undefined ? {} : { payload: body as object }),
          });
          return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
        },
        close: () => shop.close(),
      };
    },
    async remove() {
      await Promise.all(dbs.map((db) => db.drop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Adds a category and `n` products (prices 100, 200, …); returns their ids. */
export async function seedCatalog(
  shop: TestShop,
  n: number,
): Promise<{ categoryId: string; productIds: string[] }> {
  const c = await shop.call('POST', '/api/categories', { name: 'Tea' });
  if (c.status !== 201) throw new Error(`category: ${JSON.stringify(c.body)}`);
  const productIds: string[] = [];
  for (let i = 1; i <= n; i++) {
    const p = await shop.call('POST', '/api/products', {
      sku: `SKU-${i}`,
      name: `Green tea ${String(i).padStart(3, '0')}`,
      description: `Leaf number ${i}`,
      categoryId: c.body.id,
      priceCents: i * 100,
    });
    if (p.status !== 201) throw new Error(`product: ${JSON.stringify(p.body)}`);
    productIds.push(p.body.id);
  }
  return { categoryId: c.body.id, productIds };
}

/** Polls `check` until it returns true, or fails after `ms`. */
export async function until(check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Runs SQL on the read DB directly, as an operator (or a crash) would. */
export async function onReadDb(f: ShopFiles, sql: string): Promise<void> {
  if (f.stack === 'sqlite') {
    const db = new Database(f.config.readDb);
    db.exec(sql);
    db.close();
    return;
  }
  const client = new pg.Client({ connectionString: f.config.readDb });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A projection's entry in the admin API's list (`GET /api/admin/projections`). */
export type ProjectionStatusBody = Static<typeof ProjectionStatus>;

/** The admin API's status of one projection. */
export async function statusOf(shop: TestShop, name: string): Promise<ProjectionStatusBody> {
  const r = await shop.call('GET', '/api/admin/projections');
  if (r.status !== 200) throw new Error(`GET /api/admin/projections answered ${r.status}`);
  const s = (r.body as ProjectionStatusBody[]).find((p) => p.name === name);
  if (!s) throw new Error(`no status for ${name}`);
  return s;
}

/**
 * The shop's catalog with a bug: `apply` throws `error` on a batch holding an event that
 * `fails` picks (asked at each attempt, so a test can make the fault pass).
 */
export function catalogFailingOn(
  fails: (e: RecordedEvent<ShopEvent>) => boolean,
  error: string,
): Projection<ShopEvent, ProjectionDb> {
  return {
    ...catalogProjection,
    apply(events, db, context) {
      if (events.some(fails)) throw new Error(error);
      return catalogProjection.apply(events, db, context);
    },
  };
}
