// Part of the composition root: what `serve` (createShop) and `project` (createProjectorWorker)
// share — the admin token, orderly closing, the hooks that follow the read models, the jobs.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.js';
import type { Cache } from './core/cache.js';
import type { ProjectionStatus } from './core/index.js';
import type { JobQueue } from './core/jobs.js';
import type { ReadSide } from './main-stores.js';
import { CatalogCacheTags, searchTagsFor } from './shop/cache-tags.js';
import type { CatalogApplied } from './shop/catalog/projection.js';
import { ALSO_BOUGHT_JOB, alsoBoughtJob, alsoBoughtTriggers } from './shop/orders/also-bought.js';

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

/** Closers run in reverse order of opening, each once, whatever the others do. */
export class Closers {
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

export const errorMessage = (error: unknown) =>
  error instanceof Error ? error.message : String(error);

/**
 * What follows the shop's read models, wherever its projections run: the catalog's cache tags
 * invalidated once the read model committed (Redis: for every process; in-process: for this
 * one), the also-bought jobs queued for the products of placed or cancelled orders, the whole
 * cache cleared after a rebuild switched copies.
 */
export function shopProjectionHooks(deps: {
  /** What the hooks do to a cache (the projector thread's stand-in only forwards these). */
  readonly cache: Pick<Cache, 'invalidate' | 'clear'> | undefined;
  readonly jobs: JobQueue | undefined;
  readonly jobDelayMs: number;
}) {
  const tags = new CatalogCacheTags();
  const { cache, jobs } = deps;
  const warn = (what: string) => (error: unknown) =>
    console.warn(`tworooms: ${what}: ${errorMessage(error)}`);
  return {
    onApplied(
      name: string,
      events: Parameters<CatalogCacheTags['tagsFor']>[0],
      applied?: unknown,
    ): void {
      // The catalog projection reports which stock changes left every listing as it was.
      if (name === 'catalog' && cache)
        void cache.invalidate(tags.tagsFor(events, applied as CatalogApplied | undefined));
      // Search answers: once the search projection has applied what changes which products match.
      if (name === 'search' && cache) void cache.invalidate(searchTagsFor(events));
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
export async function processShopJobs(
  jobs: JobQueue,
  read: Pick<ReadSide, 'store'>,
): Promise<void> {
  const alsoBought = alsoBoughtJob({ readStore: read.store });
  await alsoBought.setup();
  jobs.process(ALSO_BOUGHT_JOB, alsoBought.run);
}

/** What the admin API drives on a projector (a `Projector` or a worker's `LeasedProjector`). */
export interface ProjectorLike {
  status(): Promise<ProjectionStatus[]>;
  rebuild(name: string): Promise<void>;
  retry(name: string): Promise<void>;
  skip(name: string, position: bigint): Promise<unknown>;
}

export function projectionControl(
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
