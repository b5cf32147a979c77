import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import {
  type CommandMetadata,
  commandBus,
  type EventLog,
  type FullTextDocument,
  type FullTextIndex,
  idempotency,
  mapWriteStore,
  type Sql,
  type WriteStore,
} from '../../src/core/index.js';
import { ADMIN, type ShopCommand } from '../../src/shop/commands.js';
import { shopCommandHandlers } from '../../src/shop/handlers.js';
import { shopMigrations } from '../../src/shop/schema.js';
import {
  migrate as migratePostgres,
  openPool,
  PostgresEventStore,
  pgSql,
  postgresFullText,
} from '../../src/stores/postgres/index.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';
import {
  migrate,
  SqliteEventStore,
  sqliteFullText,
  sqliteSql,
} from '../../src/stores/sqlite/index.js';

/** The write stores these tests run on (PostgreSQL when reachable; under CI it must be). */
export type Stack = 'sqlite' | 'postgres';
export const STACKS: readonly Stack[] = (await postgresReachable())
  ? ['sqlite', 'postgres']
  : ['sqlite'];

/** What a full-text spy was asked to do, in order. */
export type FullTextCall =
  | { readonly op: 'setup'; readonly index: string }
  | { readonly op: 'upsert'; readonly index: string; readonly doc: FullTextDocument }
  | { readonly op: 'remove'; readonly index: string; readonly id: string };

/**
 * A FullTextIndex that records its calls and passes them on to `inner` (the store's real index)
 * when given; without it, it only records and search finds nothing.
 */
export function fullTextSpy(
  inner?: FullTextIndex,
): FullTextIndex & { readonly calls: FullTextCall[] } {
  const calls: FullTextCall[] = [];
  return {
    calls,
    setup: async (sql, index) => {
      calls.push({ op: 'setup', index });
      await inner?.setup(sql, index);
    },
    upsert: async (sql, index, doc) => {
      calls.push({ op: 'upsert', index, doc: { ...doc } });
      await inner?.upsert(sql, index, doc);
    },
    remove: async (sql, index, id) => {
      calls.push({ op: 'remove', index, id });
      await inner?.remove(sql, index, id);
    },
    search: (sql, index, query, page) =>
      inner ? inner.search(sql, index, query, page) : Promise.resolve({ ids: [], total: 0 }),
  };
}

/** Metadata without an actor (an anonymous caller): spreads over the harness's default admin. */
export const ANONYMOUS = { actor: undefined } as unknown as CommandMetadata;

export const T0 = new Date('2026-03-01T10:00:00.000Z');
export const SHOP_TABLES = [
  'categories',
  'products',
  'inventory',
  'customers',
  'reviews',
  'orders',
  'order_lines',
  'order_reservations',
] as const;

/** The write side a test shop runs on, whatever the store. */
interface WriteDb {
  readonly store: WriteStore<Sql>;
  readonly log: EventLog;
  /** Outside any transaction (sees committed rows). */
  readonly sql: Sql;
  readonly realFullText: FullTextIndex;
  close(): Promise<void>;
}

async function sqliteWriteDb(): Promise<WriteDb> {
  const dir = mkdtempSync(join(tmpdir(), 'tworooms-shop-'));
  const sqlite = new SqliteEventStore({ path: join(dir, 'write.db') });
  migrate(sqlite.db, shopMigrations);
  return {
    store: mapWriteStore(sqlite, sqliteSql),
    log: sqlite.log,
    sql: sqliteSql(sqlite.db),
    realFullText: sqliteFullText,
    async close() {
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// On PostgreSQL, one database per test file (made on first use, dropped after the file) and a
// fresh schema per shop: creating a database per test would cost more than the test.
let fileDb: Promise<TestDatabase> | undefined;
afterAll(async () => {
  await (await fileDb)?.drop();
});

async function postgresWriteDb(): Promise<WriteDb> {
  fileDb ??= createTestDatabase('tworooms_shop');
  const db = await fileDb;
  const schema = `shop_${randomBytes(6).toString('hex')}`;
  const admin = openPool({ connectionString: db.url, max: 1 });
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(db.url);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const pg = await PostgresEventStore.open({ connectionString: url.toString(), poolSize: 4 });
  await migratePostgres(pg.pool, shopMigrations);
  return {
    store: mapWriteStore(pg, pgSql),
    log: pg.log,
    sql: pgSql(pg.pool),
    realFullText: postgresFullText,
    async close() {
      await pg.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

/** The primary key of each shop table: snapshots list rows in that order on every store. */
const ORDER_BY: Record<(typeof SHOP_TABLES)[number], string> = {
  categories: 'id',
  products: 'id',
  inventory: 'product_id, warehouse',
  customers: 'id',
  reviews: 'id',
  orders: 'id',
  order_lines: 'order_id, line_no',
  order_reservations: 'order_id, product_id, warehouse',
};

/**
 * A fresh write DB (SQLite, or a PostgreSQL schema) with the shop's tables, the shop's bus on
 * it, and ways to look inside. The full-text index is a recording spy, over the store's real
 * index with `realFullText`.
 */
export async function openShop(options: { realFullText?: boolean; stack?: Stack } = {}) {
  const write = options.stack === 'postgres' ? await postgresWriteDb() : await sqliteWriteDb();
  const { store, sql } = write;
  const fullText = fullTextSpy(options.realFullText ? write.realFullText : undefined);
  await fullText.setup(sql, 'products_fts');
  fullText.calls.length = 0;
  const bus = commandBus(shopCommandHandlers({ store, fullText }), {
    middleware: [idempotency(store)],
  });
  const rows = <T = Record<string, unknown>>(text: string, ...params: unknown[]) =>
    sql.all<T>(text, params);
  const log = write.log;
  const shop = {
    /** The event log (read it, or append beside the handlers). */
    events: log,
    /** The write DB outside any transaction (level-1 reads in tests). */
    sql,
    store,
    fullText,
    bus,
    rows,
    /** Level-1 search on the write DB's index: the matching ids, best first. */
    search: async (query: string) =>
      (await fullText.search(sql, 'products_fts', query, { limit: 100, offset: 0 })).ids,
    /** Dispatches as `actor` at `now` (default: admin at T0). */
    run: <C extends ShopCommand>(command: C, metadata: CommandMetadata = {}) =>
      bus.dispatch(command, { actor: ADMIN, now: T0, ...metadata }),
    /** A stream's events as `{type, data}`. */
    stream: async (streamId: string) =>
      (await log.readStream(streamId)).events.map((e) => ({ type: e.type, data: e.data })),
    /** The whole log as `{position, streamId, type, data}`. */
    log: async () =>
      (await log.readAll({ after: 0n, limit: 1_000_000 })).events.map((e) => ({
        position: e.position,
        streamId: e.streamId,
        type: e.type,
        data: e.data,
      })),
    /** Every shop table, the idempotency records and the log head: equal before and after a refusal. */
    snapshot: async () => ({
      tables: Object.fromEntries(
        await Promise.all(
          SHOP_TABLES.map(async (t) => [
            t,
            await rows(`SELECT * FROM ${t} ORDER BY ${ORDER_BY[t]}`),
          ]),
        ),
      ),
      keys: await rows('SELECT key, fingerprint FROM idempotency_keys ORDER BY key'),
      head: await log.headPosition(),
      fullTextCalls: fullText.calls.length,
    }),
    close: () => write.close(),
  };
  return shop;
}

export type Shop = Awaited<ReturnType<typeof openShop>>;

/** Seeds a category, two products with stock, and a customer; returns their ids. */
export async function seedShop(shop: Shop) {
  await shop.run({ type: 'CreateCategory', data: { categoryId: 'c-tea', name: 'Tea' } });
  await shop.run({ type: 'CreateCategory', data: { categoryId: 'c-cups', name: 'Cups' } });
  await shop.run({
    type: 'AddProduct',
    data: {
      productId: 'p-green',
      sku: 'TEA-GREEN',
      name: 'Green tea',
      description: 'Sencha from Shizuoka',
      categoryId: 'c-tea',
      priceCents: 1250,
      maxAllowedPriceCents: 2000,
    },
  });
  await shop.run({
    type: 'AddProduct',
    data: {
      productId: 'p-black',
      sku: 'TEA-BLACK',
      name: 'Black tea',
      description: 'Assam',
      categoryId: 'c-tea',
      priceCents: 900,
      thumbnailUrl: 'https://img.example/black.png',
    },
  });
  await shop.run({
    type: 'RegisterCustomer',
    data: {
      customerId: 'cu-ann',
      email: 'Ann@Example.com',
      name: 'Ann',
      tokenHash: 'a'.repeat(64),
    },
  });
  await shop.run({
    type: 'RegisterCustomer',
    data: {
      customerId: 'cu-bob',
      email: 'bob@example.com',
      name: 'Bob',
      tokenHash: 'b'.repeat(64),
    },
  });
  shop.fullText.calls.length = 0;
  return { ann: 'cu-ann', bob: 'cu-bob', green: 'p-green', black: 'p-black' };
}
