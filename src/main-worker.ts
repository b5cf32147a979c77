// Part of the composition root: a `tworooms project` process — the shop's projections under
// leases, the cache they invalidate, the jobs they queue, and a small HTTP endpoint.
import type { FastifyInstance } from 'fastify';
import { type Config, ConfigError, isPostgresUrl } from './config.js';
import { LeasedProjector, type Projection } from './core/index.js';
import type { JobQueue } from './core/jobs.js';
import { shopMetrics } from './http/metrics.js';
import { buildWorkerApp } from './http/worker-app.js';
import {
  adminTokenFor,
  Closers,
  errorMessage,
  processShopJobs,
  projectionControl,
  shopProjectionHooks,
} from './main-parts.js';
import { openCache, openJobs, openLeases, openReadSide, openWriteSide } from './main-stores.js';
import type { ShopEvent } from './shop/events.js';
import { shopProjections } from './shop/query-handlers.js';
import type { ProjectionDb } from './shop/read-db.js';

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
    await processShopJobs(jobs, read);
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
      coalesceMs: config.projectCoalesceMs,
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
