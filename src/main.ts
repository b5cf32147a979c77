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
  inProcessJobs,
  observe,
  type Projection,
  projector,
  queryBus,
  retry,
  setupReadModels,
  timeOrderedId,
} from './core/index.js';
import type { JobQueue } from './core/jobs.js';
import { buildApp } from './http/app.js';
import { shopMetrics } from './http/metrics.js';
import {
  openReadSide,
  openSqliteWriteStore,
  openWriteSide,
  type WriteSide,
} from './main-stores.js';
import { CatalogCacheTags, searchTagsFor } from './shop/cache-tags.js';
import { seedDemo } from './shop/demo.js';
import type { ShopEvent } from './shop/events.js';
import { shopCommandHandlers } from './shop/handlers.js';
import { ALSO_BOUGHT_JOB, alsoBoughtJob, alsoBoughtTriggers } from './shop/orders/also-bought.js';
import { shopProjections, shopQueryHandlers } from './shop/query-handlers.js';
import type { ProjectionDb } from './shop/read-db.js';
import { shopReads } from './shop/reads.js';
import { InProcessCache } from './stores/memory/index.js';

export interface ShopOptions {
  /** Run the projector in this process (default true in read-model mode). */
  readonly projector?: boolean;
  readonly logger?: boolean | Record<string, unknown>;
  /** The projections to run (default: `shopProjections()`); tests deploy other versions. */
  readonly projections?: readonly Projection<ShopEvent, ProjectionDb>[];
  /** Events per projector batch (default 2000). */
  readonly batchSize?: number;
}

export { openReadSide, openWriteSide, type ReadSide, type WriteSide } from './main-stores.js';

/** Opens (and migrates) the embedded SQLite write DB (for `seed`, which loads it directly). */
export const openWriteStore = openSqliteWriteStore;

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
  /** The write DB and its event log. */
  readonly store: WriteSide;
  readonly projector: ReturnType<typeof projector> | undefined;
  /** Background jobs run by this process (with the projector), if any. */
  readonly jobs: JobQueue | undefined;
  /** Seeds the demo catalog if the store has no category yet; returns how many products it added. */
  seedDemo(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Wires the shop: the write DB + log and the read DB on SQLite files (the embedded default) or
 * PostgreSQL, the in-process cache and projector.
 */
export async function createShop(config: Config, options: ShopOptions = {}): Promise<Shop> {
  const write = await openWriteSide(config);
  const { store: writeStore, fullText } = write;
  const readModelMode = config.readMode === 'read-model';
  const cache = readModelMode ? new InProcessCache({ ttlMs: config.cacheTtlMs }) : undefined;
  const tags = new CatalogCacheTags();

  const projections = options.projections ?? shopProjections();
  let read: Awaited<ReturnType<typeof openReadSide>>;
  try {
    read = await openReadSide(config);
    // The read models' tables exist even in a process that does not project (an API-only node).
    await setupReadModels(read.store, projections);
  } catch (error) {
    await write.close();
    throw error;
  }
  const shopReadStore = read.store;
  const runProjector = readModelMode && (options.projector ?? true);
  // Background jobs run where the projector runs: it is what notices the orders that trigger them.
  const jobs = runProjector ? inProcessJobs() : undefined;
  if (jobs) {
    const alsoBought = alsoBoughtJob({ writeDb: write.reader, readStore: shopReadStore });
    await alsoBought.setup();
    jobs.process(ALSO_BOUGHT_JOB, alsoBought.run);
  }
  const worker = runProjector
    ? projector({
        log: write.log,
        store: shopReadStore,
        projections,
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        onApplied: (name, events) => {
          if (name === 'catalog' && cache) void cache.invalidate(tags.tagsFor(events));
          if (name === 'search' && cache) void cache.invalidate(searchTagsFor(events));
          if (name === 'orders' && jobs)
            for (const productId of alsoBoughtTriggers(events))
              void jobs.add(ALSO_BOUGHT_JOB, productId, { delayMs: config.jobDelayMs });
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
      idempotency(writeStore, { required: ['PlaceOrder', 'CheckOutCart'] }),
    ],
  });
  const l1 = queryBus(shopQueryHandlers('write-db'), { db: { sql: write.reader, fullText } });
  const readReader = readModelMode ? read.reader() : undefined;
  // Without a projector here, positions come from the checkpoints another process writes.
  const progress =
    worker ??
    (readModelMode ? new CheckpointProgress(() => shopReadStore.loadCheckpoints()) : undefined);
  if (progress instanceof CheckpointProgress) await progress.refresh();
  const l2 = readReader
    ? queryBus(shopQueryHandlers('read-model'), {
        db: { sql: readReader, fullText },
        ...(progress ? { progress } : {}),
        defaultWaitMs: config.defaultWaitMs,
      })
    : undefined;
  const reads = shopReads({
    mode: config.readMode,
    ...(l2 ? { readModel: l2 } : {}),
    writeDb: l1,
    ...(cache ? { cache } : {}),
    headPosition: () => write.headPosition(),
  });
  const adminToken = adminTokenFor(config);

  if (worker) await worker.start();
  const app = await buildApp({
    readMode: config.readMode,
    commands: bus,
    reads,
    log: write.log,
    auth: {
      adminToken: adminToken.token,
      customerByTokenHash: (hash) =>
        write.reader.get<{ customerId: string }>(
          'SELECT id AS "customerId" FROM customers WHERE token_hash = ?',
          [hash],
        ),
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
    store: write,
    projector: worker,
    seedDemo: () =>
      seedDemo(
        bus,
        timeOrderedId,
        async () => !(await write.reader.get('SELECT 1 AS found FROM categories LIMIT 1')),
      ),
    jobs,
    async close() {
      await app.close();
      await worker?.stop();
      await jobs?.close();
      await write.close();
      await read.close();
    },
  };
}
