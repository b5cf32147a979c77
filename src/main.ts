// The composition root: the only module that sees every layer and wires stores into ports.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type Config, ConfigError, isPostgresUrl } from './config.js';
import {
  CheckpointProgress,
  commandBus,
  idempotency,
  type Lease,
  LeasedProjector,
  type LeaseManager,
  observe,
  type Projection,
  type ProjectionStatus,
  projector,
  queryBus,
  retry,
  setupReadModels,
  timeOrderedId,
} from './core/index.js';
import type { JobQueue } from './core/jobs.js';
import { buildApp } from './http/app.js';
import { shopMetrics } from './http/metrics.js';
import { buildWorkerApp } from './http/worker-app.js';
import {
  openCache,
  openJobs,
  openLeases,
  openReadSide,
  openSqliteWriteStore,
  openWriteSide,
  type ReadSide,
  type ShopCache,
  type WriteSide,
} from './main-stores.js';
import { CatalogCacheTags } from './shop/cache-tags.js';
import { seedDemo } from './shop/demo.js';
import type { ShopEvent } from './shop/events.js';
import { shopCommandHandlers } from './shop/handlers.js';
import { ALSO_BOUGHT_JOB, alsoBoughtJob, alsoBoughtTriggers } from './shop/orders/also-bought.js';
import { shopProjections, shopQueryHandlers } from './shop/query-handlers.js';
import type { ProjectionDb } from './shop/read-db.js';
import { shopReads } from './shop/reads.js';
import { InProcessCache } from './stores/memory/index.js';
import { type EventSubscription, natsCacheInvalidation } from './stores/nats/index.js';

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
  /** The query cache (Redis or in-process), in read-model mode. */
  readonly cache: ShopCache | undefined;
  /** Seeds the demo catalog if the store has no category yet; returns how many products it added. */
  seedDemo(): Promise<number>;
  close(): Promise<void>;
}

/** Closers run in reverse order of opening, each once, whatever the others do. */
class Closers {
  private readonly list: (() => Promise<unknown> | unknown)[] = [];
  add(close: () => Promise<unknown> | unknown): void {
    this.list.push(close);
  }
  async closeAll(): Promise<void> {
    let first: unknown;
    for (const close of this.list.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        first ??= error;
      }
    }
    if (first) throw first;
  }
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * What follows the shop's read models, wherever its projections run: the catalog's cache tags
 * invalidated once the read model committed (Redis: for every process; in-process: for this
 * one), the also-bought jobs queued for the products of placed or cancelled orders, the whole
 * cache cleared after a rebuild switched copies.
 */
export function shopProjectionHooks(deps: {
  readonly cache: ShopCache | undefined;
  readonly jobs: JobQueue | undefined;
  readonly jobDelayMs: number;
}) {
  const tags = new CatalogCacheTags();
  const { cache, jobs } = deps;
  const warn = (what: string) => (error: unknown) =>
    console.warn(`tworooms: ${what}: ${errorMessage(error)}`);
  return {
    onApplied(name: string, events: Parameters<CatalogCacheTags['tagsFor']>[0]): void {
      if (name === 'catalog' && cache) void cache.invalidate(tags.tagsFor(events));
      if (name === 'orders' && jobs)
        for (const productId of alsoBoughtTriggers(events))
          jobs
            .add(ALSO_BOUGHT_JOB, productId, { delayMs: deps.jobDelayMs })
            .catch(warn(`queueing ${ALSO_BOUGHT_JOB} for ${productId}`));
    },
    // A switched copy may answer differently from the old one: no cached answer survives it.
    onSwitched(): void {
      cache?.clear().catch(warn('clearing the cache after a switch'));
    },
    /** After an in-place rebuild (reset) of a projection. */
    afterRebuild: async () => {
      await cache?.clear();
    },
  };
}

/** Registers the shop's job handlers on `jobs` (in the process that runs them). */
async function processShopJobs(jobs: JobQueue, write: WriteSide, read: ReadSide): Promise<void> {
  const alsoBought = alsoBoughtJob({ writeDb: write.reader, readStore: read.store });
  await alsoBought.setup();
  jobs.process(ALSO_BOUGHT_JOB, alsoBought.run);
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
  let worker: ReturnType<typeof projector> | undefined;
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
  // Background jobs run where the projector runs: it is what notices the orders that trigger them.
  const jobs = runProjector ? openJobs(config) : undefined;
  if (jobs) {
    closers.add(() => jobs.close());
    await processShopJobs(jobs, write, read);
  }
  const hooks = shopProjectionHooks({ cache, jobs, jobDelayMs: config.jobDelayMs });
  worker = runProjector
    ? projector({
        log: write.log,
        store: shopReadStore,
        projections,
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        onApplied: hooks.onApplied,
        onSwitched: hooks.onSwitched,
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
  const invalidationTags = new CatalogCacheTags();
  // An API-only node with an in-process cache hears about changes projected elsewhere via NATS
  // (a Redis cache is invalidated by the projecting process itself).
  const invalidation: EventSubscription | undefined =
    cache instanceof InProcessCache && !worker && progress && config.bus
      ? natsCacheInvalidation({
          servers: config.bus.url,
          stream: config.bus.stream,
          prefix: config.bus.prefix,
          cache,
          progress,
          projection: 'catalog',
          tagsFor: (events) => invalidationTags.tagsFor(events),
          headPosition: () => write.headPosition(),
          onError: (error) => console.warn(`tworooms: cache invalidation: ${error.message}`),
        })
      : undefined;
  if (invalidation) closers.add(() => invalidation.close());
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

  if (worker) {
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
    log: write.log,
    auth: {
      adminToken: adminToken.token,
      customerByTokenHash: (hash) =>
        write.reader.get<{ customerId: string }>(
          'SELECT id AS "customerId" FROM customers WHERE token_hash = ?',
          [hash],
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

/** What the admin API drives on a projector (a `Projector` or a worker's `LeasedProjector`). */
interface ProjectorLike {
  status(): Promise<ProjectionStatus[]>;
  rebuild(name: string): Promise<void>;
  retry(name: string): Promise<void>;
  skip(name: string, position: bigint): Promise<unknown>;
}

function projectionControl(
  worker: ProjectorLike,
  hooks: ReturnType<typeof shopProjectionHooks>,
): ProjectorLike {
  return {
    status: () => worker.status(),
    rebuild: async (name) => {
      await worker.rebuild(name);
      await hooks.afterRebuild();
    },
    retry: (name) => worker.retry(name),
    skip: (name, position) => worker.skip(name, position),
  };
}

export interface WorkerOptions {
  readonly logger?: boolean | Record<string, unknown>;
  /** The projections to run (default: `shopProjections()`). */
  readonly projections?: readonly Projection<ShopEvent, ProjectionDb>[];
  /** Events per projector batch (default 2000). */
  readonly batchSize?: number;
  /** How often a standby tries to take over a projection nobody holds (default 1000 ms). */
  readonly acquireEveryMs?: number;
  /** Told when this worker starts or stops owning a projection. */
  readonly onOwnership?: (projection: string, owned: boolean) => void;
}

/** A `tworooms project` process: projections under leases, their cache and jobs, an HTTP endpoint. */
export interface ProjectorWorker {
  /** `/health`, `/metrics` and the admin projection routes (not listening yet). */
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly adminToken: ReturnType<typeof adminTokenFor>;
  readonly projector: LeasedProjector<ProjectionDb>;
  readonly jobs: JobQueue;
  /** True on PostgreSQL (standbys take over); false on SQLite (one worker, refused twice). */
  readonly failover: boolean;
  close(): Promise<void>;
}

/**
 * Wires a projector worker: the shop's projections run under leases — on PostgreSQL an advisory
 * lock per projection on the read DB, so of several workers exactly one owns each projection and
 * a standby takes over within about a second of the owner's death; on SQLite one worker per read
 * DB (a second one is refused). The owner invalidates the Redis cache after each batch and
 * queues the background jobs, which every worker processes (BullMQ on Redis, in-process else).
 */
export async function createProjectorWorker(
  config: Config,
  options: WorkerOptions = {},
): Promise<ProjectorWorker> {
  if (config.readMode !== 'read-model')
    throw new ConfigError(
      'tworooms project runs the read models, and TWOROOMS_READS=write-db has none: unset it or set read-model.',
    );
  const closers = new Closers();
  try {
    const write = await openWriteSide(config);
    closers.add(() => write.close());
    const read = await openReadSide(config);
    closers.add(() => read.close());
    const projections = options.projections ?? shopProjections();
    // Only a shared (Redis) cache is this process's to invalidate; API nodes' in-process
    // caches follow NATS JetStream (TWOROOMS_BUS) instead.
    const opened = config.cache ? await openCache(config) : undefined;
    if (opened) closers.add(() => opened.close());
    const leases = await openLeases(config, `tworooms-project-${process.pid}`);
    closers.add(() => leases.close());
    const jobs = openJobs(config);
    closers.add(() => jobs.close());
    await processShopJobs(jobs, write, read);
    const hooks = shopProjectionHooks({
      cache: opened?.cache,
      jobs,
      jobDelayMs: config.jobDelayMs,
    });
    const worker = new LeasedProjector<ProjectionDb>({
      log: write.log,
      store: read.store,
      projections,
      leases,
      ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      ...(options.acquireEveryMs ? { acquireEveryMs: options.acquireEveryMs } : {}),
      ...(options.onOwnership ? { onOwnership: options.onOwnership } : {}),
      // SQLite signals no appends across processes (the API runs in another): look often.
      ...(isPostgresUrl(config.writeDb) ? {} : { pollMs: 100 }),
      onApplied: hooks.onApplied,
      onSwitched: hooks.onSwitched,
      onError: (name, error, attempt) =>
        console.warn(
          `tworooms: projection ${name}${attempt ? ` (attempt ${attempt})` : ''}: ${errorMessage(error)}`,
        ),
    });
    closers.add(() => worker.stop());
    await worker.start();
    const metrics = shopMetrics({ projections: worker });
    const adminToken = adminTokenFor(config);
    const app = await buildWorkerApp({
      projections: {
        ...projectionControl(worker, hooks),
        notHere: (name) =>
          projections.some((p) => p.name === name)
            ? `Projection ${name} runs in another worker now (this one stands by): use the --url of the worker that owns it.`
            : undefined,
      },
      adminToken: adminToken.token,
      metrics: metrics.registry,
      onResponse: metrics.observeHttp,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    closers.add(() => app.close());
    return {
      app,
      config,
      adminToken,
      projector: worker,
      jobs,
      failover: isPostgresUrl(config.readDb),
      close: () => closers.closeAll(),
    };
  } catch (error) {
    await closers.closeAll().catch(() => undefined);
    throw error;
  }
}
