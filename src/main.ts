// The composition root: the only module that sees every layer and wires stores into ports.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import {
  CheckpointProgress,
  commandBus,
  idempotency,
  mapReadStore,
  mapWriteStore,
  observe,
  type Projection,
  projector,
  queryBus,
  retry,
  setupReadModels,
  timeOrderedId,
} from './core/index.js';
import { buildApp } from './http/app.js';
import { shopMetrics } from './http/metrics.js';
import { CatalogCacheTags } from './shop/cache-tags.js';
import { PRODUCTS_FTS } from './shop/catalog/handlers.js';
import { shopReadIndexes } from './shop/catalog/l1-indexes.js';
import { seedDemo } from './shop/demo.js';
import type { ShopEvent } from './shop/events.js';
import { shopCommandHandlers } from './shop/handlers.js';
import { shopProjections, shopQueryHandlers } from './shop/query-handlers.js';
import type { ProjectionDb } from './shop/read-db.js';
import { shopReads } from './shop/reads.js';
import { shopMigrations } from './shop/schema.js';
import { InProcessCache } from './stores/memory/index.js';
import {
  migrate,
  SqliteEventStore,
  SqliteReadStore,
  sqliteFullText,
  sqliteSql,
} from './stores/sqlite/index.js';

export interface ShopOptions {
  /** Run the projector in this process (default true in read-model mode). */
  readonly projector?: boolean;
  readonly logger?: boolean | Record<string, unknown>;
  /** The projections to run (default: `shopProjections()`); tests deploy other versions. */
  readonly projections?: readonly Projection<ShopEvent, ProjectionDb>[];
  /** Events per projector batch (default 2000). */
  readonly batchSize?: number;
}

/** Opens (and migrates) the write DB with the shop's schema and the level-1 search index. */
export async function openWriteStore(config: Config): Promise<SqliteEventStore> {
  const store = new SqliteEventStore({
    path: config.writeDb,
    synchronous: config.sqliteSynchronous,
  });
  migrate(store.db, [...shopMigrations, ...shopReadIndexes]);
  await sqliteFullText.setup(sqliteSql(store.db), PRODUCTS_FTS);
  return store;
}

/** The admin token: from the environment, or made once and kept in the data directory. */
export function adminTokenFor(config: Config): {
  token: string;
  source: 'env' | 'file' | 'new';
  file: string;
} {
  const file = join(config.dataDir, 'admin-token');
  if (config.adminToken) return { token: config.adminToken, source: 'env', file };
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), source: 'file', file };
  mkdirSync(config.dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, source: 'new', file };
}

export interface Shop {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly adminToken: ReturnType<typeof adminTokenFor>;
  readonly store: SqliteEventStore;
  readonly projector: ReturnType<typeof projector> | undefined;
  /** Seeds the demo catalog if the store has no category yet; returns how many products it added. */
  seedDemo(): Promise<number>;
  close(): Promise<void>;
}

/** Wires the embedded shop: SQLite write DB + log, SQLite read DB, in-process cache and projector. */
export async function createShop(config: Config, options: ShopOptions = {}): Promise<Shop> {
  const store = await openWriteStore(config);
  const fullText = sqliteFullText;
  const writeStore = mapWriteStore(store, sqliteSql);
  const readModelMode = config.readMode === 'read-model';
  const cache = readModelMode ? new InProcessCache({ ttlMs: config.cacheTtlMs }) : undefined;
  const tags = new CatalogCacheTags();

  const readStore = new SqliteReadStore({ path: config.readDb });
  const shopReadStore = mapReadStore(readStore, (db) => ({ sql: sqliteSql(db), fullText }));
  const projections = options.projections ?? shopProjections();
  // The read models' tables exist even in a process that does not project (an API-only node).
  await setupReadModels(shopReadStore, projections);
  const runProjector = readModelMode && (options.projector ?? true);
  const worker = runProjector
    ? projector({
        log: store.log,
        store: shopReadStore,
        projections,
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        onApplied: (name, events) => {
          if (name === 'catalog' && cache) void cache.invalidate(tags.tagsFor(events));
        },
        // A switched copy may answer differently from the old one: no cached answer survives it.
        onSwitched: () => void cache?.clear(),
      })
    : undefined;
  const metrics = shopMetrics({
    ...(worker ? { projections: worker } : {}),
    ...(cache ? { cache } : {}),
  });

  const bus = commandBus(shopCommandHandlers({ store: writeStore, fullText }), {
    middleware: [
      observe(metrics.observeCommand),
      retry(),
      idempotency(store, { required: ['PlaceOrder', 'CheckOutCart'] }),
    ],
  });
  const writeReader = store.readOnly();
  const l1 = queryBus(shopQueryHandlers('write-db'), {
    db: { sql: sqliteSql(writeReader), fullText },
  });
  const readReader = readModelMode ? readStore.readOnly() : undefined;
  // Without a projector here, positions come from the checkpoints another process writes.
  const progress =
    worker ??
    (readModelMode ? new CheckpointProgress(() => readStore.loadCheckpoints()) : undefined);
  if (progress instanceof CheckpointProgress) await progress.refresh();
  const l2 = readReader
    ? queryBus(shopQueryHandlers('read-model'), {
        db: { sql: sqliteSql(readReader), fullText },
        ...(progress ? { progress } : {}),
        defaultWaitMs: config.defaultWaitMs,
      })
    : undefined;
  const reads = shopReads({
    mode: config.readMode,
    ...(l2 ? { readModel: l2 } : {}),
    writeDb: l1,
    ...(cache ? { cache } : {}),
    headPosition: () => store.headPosition(),
  });
  const adminToken = adminTokenFor(config);
  const customerLookup = writeReader.prepare(
    'SELECT id AS customerId FROM customers WHERE token_hash = ?',
  );

  if (worker) await worker.start();
  const app = await buildApp({
    readMode: config.readMode,
    commands: bus,
    reads,
    log: store.log,
    auth: {
      adminToken: adminToken.token,
      customerByTokenHash: async (hash) =>
        customerLookup.get(hash) as { customerId: string } | undefined,
    },
    ...(worker
      ? {
          projections: {
            status: () => worker.status(),
            rebuild: async (name: string) => {
              await worker.rebuild(name);
              await cache?.clear();
            },
            retry: (name: string) => worker.retry(name),
            skip: (name: string, position: bigint) => worker.skip(name, position),
          },
        }
      : {}),
    metrics: metrics.registry,
    onResponse: metrics.observeHttp,
    defaultWaitMs: config.defaultWaitMs,
    rateLimitPerMinute: config.rateLimitPerMinute,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });

  return {
    app,
    config,
    adminToken,
    store,
    projector: worker,
    seedDemo: () =>
      seedDemo(
        bus,
        timeOrderedId,
        async () => !store.db.prepare('SELECT 1 FROM categories LIMIT 1').get(),
      ),
    async close() {
      await app.close();
      await worker?.stop();
      await store.close();
      writeReader.close();
      readReader?.close();
      await readStore.close();
    },
  };
}
