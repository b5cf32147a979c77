// The composition root: the only module that sees every layer and wires stores into ports
// (with its parts: main-stores.ts opens the stores, main-parts.ts holds what `serve` and
// `project` share, main-worker.ts wires `project`).
import { MessageChannel } from 'node:worker_threads';
import type { FastifyInstance } from 'fastify';
import { type Config, isPostgresUrl } from './config.js';
import {
  CheckpointProgress,
  commandBus,
  type Lease,
  type LeaseManager,
  observe,
  type Projection,
  Projector,
  projector,
  queryBus,
  setupReadModels,
  timeOrderedId,
} from './core/index.js';
import type { JobQueue } from './core/jobs.js';
import type { RecordedEvent } from './core/messages.js';
import { buildApp } from './http/app.js';
import { rememberCustomers } from './http/auth.js';
import { shopMetrics } from './http/metrics.js';
import {
  adminTokenFor,
  Closers,
  processShopJobs,
  projectionControl,
  shopProjectionHooks,
} from './main-parts.js';
import { type ProjectorThread, startProjectorThread } from './main-projector-thread.js';
import {
  openCache,
  openJobs,
  openLeases,
  openReadSide,
  openSqliteWriteStore,
  openWriteSide,
  type ShopCache,
  type WriteSide,
} from './main-stores.js';
import {
  handlersOnThread,
  shopCommandMiddleware,
  startWriterThread,
  wokenByWriter,
} from './main-writer.js';
import { CatalogCacheTags, searchTagsFor } from './shop/cache-tags.js';
import { seedDemo } from './shop/demo.js';
import type { ShopEvent } from './shop/events.js';
import { shopCommandHandlers } from './shop/handlers.js';
import { shopProjections, shopQueryHandlers } from './shop/query-handlers.js';
import type { ProjectionDb } from './shop/read-db.js';
import { shopReads } from './shop/reads.js';
import { InProcessCache } from './stores/memory/index.js';
import { type EventSubscription, natsCacheInvalidation } from './stores/nats/index.js';

export { adminTokenFor, shopProjectionHooks } from './main-parts.js';
export {
  createProjectorWorker,
  type ProjectorWorker,
  type WorkerOptions,
} from './main-worker.js';
export interface ShopOptions {
  /** Run the projector in this process (default true in read-model mode). */
  readonly projector?: boolean;
  readonly logger?: boolean | Record<string, unknown>;
  /** The projections to run (default: `shopProjections()`); tests deploy other versions. */
  readonly projections?: readonly Projection<ShopEvent, ProjectionDb>[];
  /** Events per projector batch (default 2000). */
  readonly batchSize?: number;
}

export {
  openCache,
  openJobs,
  openLeases,
  openReadSide,
  openWriteSide,
  type ReadSide,
  type ShopCache,
  type WriteSide,
} from './main-stores.js';

/** Opens (and migrates) the embedded SQLite write DB (for `seed`, which loads it directly). */
export const openWriteStore = openSqliteWriteStore;

/** This process's projector: on the event loop, or its stand-in for the projector thread. */
export type ShopProjector = Projector<ProjectionDb> | ProjectorThread;

export interface Shop {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly adminToken: ReturnType<typeof adminTokenFor>;
  /** The write DB and its event log. */
  readonly store: WriteSide;
  /** The projections run by this process: on the event loop, or on the projector thread. */
  readonly projector: ShopProjector | undefined;
  /** Background jobs run by this process (with the projector), if any. */
  readonly jobs: JobQueue | undefined;
  /** The query cache (Redis or in-process), in read-model mode. */
  readonly cache: ShopCache | undefined;
  /** Seeds the demo catalog if the store has no category yet; returns how many products it added. */
  seedDemo(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The leases on every projection, for a `serve` that projects: it must be the only projector
 * (PostgreSQL: no `tworooms project` worker or other `serve` holds one; SQLite: the read DB's
 * projector lock). `onLost` is told if a lease goes while serving (the connection dropped).
 */
async function holdEveryProjection(
  config: Config,
  names: readonly string[],
  onLost: (name: string) => void,
): Promise<LeaseManager> {
  const leases = await openLeases(config, 'tworooms-serve');
  try {
    const held: Lease[] = [];
    for (const name of names) {
      const lease = await leases.tryAcquire(name);
      if (!lease)
        throw new Error(
          `projection ${name} already runs in another process (a \`tworooms project\` worker or another \`tworooms serve\`): start this one with --no-projector`,
        );
      held.push(lease);
    }
    for (const lease of held) void lease.lost.then(() => onLost(lease.name));
    return leases;
  } catch (error) {
    await leases.close();
    throw error;
  }
}

/**
 * Wires the shop: the write DB + log and the read DB on SQLite files (the embedded default) or
 * PostgreSQL; the query cache in-process or in Redis (`TWOROOMS_CACHE`); background jobs
 * in-process or on BullMQ; the projector here (holding every projection's lease) or elsewhere,
 * with an in-process cache then kept fresh from NATS JetStream (`TWOROOMS_BUS`).
 */
export async function createShop(config: Config, options: ShopOptions = {}): Promise<Shop> {
  const closers = new Closers();
  try {
    return await wireShop(config, options, closers);
  } catch (error) {
    await closers.closeAll().catch(() => undefined);
    throw error;
  }
}

async function wireShop(config: Config, options: ShopOptions, closers: Closers): Promise<Shop> {
  const write = await openWriteSide(config);
  closers.add(() => write.close());
  const { store: writeStore, fullText } = write;
  // Commands on their own thread (SQLite): closed after the app and the projector, below.
  const writer =
    config.sqliteWriteThread && !isPostgresUrl(config.writeDb)
      ? await startWriterThread({ path: config.writeDb, synchronous: config.sqliteSynchronous })
      : undefined;
  if (writer) closers.add(() => writer.close());
  const log = writer ? wokenByWriter(write.log, writer) : write.log;
  const readModelMode = config.readMode === 'read-model';
  const projections = options.projections ?? shopProjections();
  const read = await openReadSide(config);
  closers.add(() => read.close());
  // The read models' tables exist even in a process that does not project (an API-only node).
  await setupReadModels(read.store, projections);
  const opened = readModelMode ? await openCache(config) : undefined;
  if (opened) closers.add(() => opened.close());
  const cache = opened?.cache;

  const shopReadStore = read.store;
  const runProjector = readModelMode && (options.projector ?? true);
  let stopping = false;
  let worker: ShopProjector | undefined;
  if (runProjector) {
    const leases = await holdEveryProjection(
      config,
      projections.map((p) => p.name),
      (name) => {
        if (stopping) return;
        console.error(
          `tworooms: lost the lease on projection ${name} (the lease connection dropped): this process stops projecting`,
        );
        void worker?.stop();
      },
    );
    closers.add(() => leases.close());
  }
  // On SQLite the shop's projections, with their jobs, run on a thread of their own by default.
  const onThread =
    runProjector &&
    config.sqliteProjectThread &&
    !isPostgresUrl(config.readDb) &&
    !isPostgresUrl(config.writeDb) &&
    options.projections === undefined;
  // Background jobs run where the projector runs: it is what notices the orders that trigger them.
  const jobs = runProjector && !onThread ? openJobs(config) : undefined;
  if (jobs) {
    closers.add(() => jobs.close());
    await processShopJobs(jobs, read);
  }
  const hooks = shopProjectionHooks({ cache, jobs, jobDelayMs: config.jobDelayMs });
  if (onThread) {
    // The writer thread's commits wake the projector thread directly (no hop through this loop);
    // this loop passes on only its own appends.
    let heads: MessageChannel | undefined;
    if (writer) {
      heads = new MessageChannel();
      writer.sendHeadsTo(heads.port1);
    }
    const thread = await startProjectorThread(
      { config, ...(options.batchSize ? { batchSize: options.batchSize } : {}) },
      {
        log: heads ? write.log : log,
        ...(heads ? { heads: heads.port2 } : {}),
        cache,
        onDeath: (error) => {
          if (stopping) return;
          console.error(`tworooms: ${error.message}: the read models no longer follow the log`);
        },
      },
    );
    closers.add(() => {
      stopping = true;
      return thread.close();
    });
    worker = thread;
  } else if (runProjector) {
    worker = projector({
      log,
      store: shopReadStore,
      projections,
      ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      coalesceMs: config.projectCoalesceMs,
      onApplied: hooks.onApplied,
      onSwitched: hooks.onSwitched,
    });
  }
  const metrics = shopMetrics({
    ...(worker ? { projections: worker } : {}),
    ...(cache ? { cache } : {}),
  });

  // On the writer thread, retry and idempotency run there, around the handlers.
  const bus = writer
    ? commandBus(handlersOnThread(writer), { middleware: [observe(metrics.observeCommand)] })
    : commandBus(shopCommandHandlers({ store: writeStore, fullText }), {
        middleware: [observe(metrics.observeCommand), ...shopCommandMiddleware(writeStore)],
      });
  const l1 = queryBus(shopQueryHandlers('write-db'), { db: { sql: write.reader, fullText } });
  const readReader = readModelMode ? read.reader() : undefined;
  // Without a projector here, positions come from the checkpoints another process writes.
  const progress =
    worker ??
    (readModelMode ? new CheckpointProgress(() => shopReadStore.loadCheckpoints()) : undefined);
  if (progress instanceof CheckpointProgress) await progress.refresh();
  const invalidationTags = new CatalogCacheTags();
  // An API-only node with an in-process cache hears about changes projected elsewhere via NATS
  // (a Redis cache is invalidated by the projecting process itself): catalog pages and documents
  // once the catalog projection has applied them, search answers once the search projection has.
  const subscribe = (
    projection: string,
    tagsFor: (events: readonly RecordedEvent[]) => string[],
  ) =>
    cache instanceof InProcessCache && !worker && progress && config.bus
      ? natsCacheInvalidation({
          servers: config.bus.url,
          stream: config.bus.stream,
          prefix: config.bus.prefix,
          cache,
          progress,
          projection,
          tagsFor,
          headPosition: () => write.headPosition(),
          onError: (error) => console.warn(`tworooms: cache invalidation: ${error.message}`),
        })
      : undefined;
  const invalidations: EventSubscription[] = [
    subscribe('catalog', (events) => invalidationTags.tagsFor(events)),
    subscribe('search', searchTagsFor),
  ].filter((s) => s !== undefined);
  for (const invalidation of invalidations) closers.add(() => invalidation.close());
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

  if (worker instanceof Projector) {
    const started = worker;
    closers.add(() => {
      stopping = true;
      return started.stop();
    });
    await started.start();
  }
  const app = await buildApp({
    readMode: config.readMode,
    commands: bus,
    reads,
    log,
    auth: {
      adminToken: adminToken.token,
      customerByTokenHash: rememberCustomers((hash) =>
        write.reader.get<{ customerId: string }>(
          'SELECT id AS "customerId" FROM customers WHERE token_hash = ?',
          [hash],
        ),
      ),
    },
    ...(worker ? { projections: projectionControl(worker, hooks) } : {}),
    metrics: metrics.registry,
    onResponse: metrics.observeHttp,
    defaultWaitMs: config.defaultWaitMs,
    rateLimitPerMinute: config.rateLimitPerMinute,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  closers.add(() => app.close());

  return {
    app,
    config,
    adminToken,
    store: write,
    projector: worker,
    cache,
    seedDemo: () =>
      seedDemo(
        bus,
        timeOrderedId,
        async () => !(await write.reader.get('SELECT 1 AS found FROM categories LIMIT 1')),
      ),
    jobs,
    close: () => closers.closeAll(),
  };
}
