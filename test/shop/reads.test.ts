// The read side's cache fill: an answer read after waiting for a consistency token is cached,
// one that an invalidation raced is not.
import { describe, expect, it } from 'vitest';
import { type ProgressSource, type QueryHandler, queryBus } from '../../src/core/index.js';
import { shopReads } from '../../src/shop/reads.js';
import { inProcessCache } from '../../src/stores/memory/index.js';

/** A projector stand-in: the test moves the catalog's position by hand. */
function progressByHand() {
  let position = 0n;
  const listeners = new Set<() => void>();
  let someoneWaits: (() => void) | undefined;
  const source: ProgressSource = {
    positionOf: () => position,
    isFailed: () => false,
    onProgress(listener) {
      listeners.add(listener);
      someoneWaits?.();
      return () => listeners.delete(listener);
    },
  };
  return {
    source,
    /** Resolves once a read is waiting for a position. */
    waited: () => new Promise<void>((resolve) => (someoneWaits = resolve)),
    moveTo(to: bigint) {
      position = to;
      for (const l of listeners) l();
    },
  };
}

describe('shop reads', () => {
  const setup = (onRead: () => void = () => {}) => {
    const model = { price: 1000 };
    const progress = progressByHand();
    const page: QueryHandler<{ type: 'CatalogPage'; data: Record<string, never> }, unknown, null> =
      {
        projections: ['catalog'],
        handle: () => {
          onRead();
          return { items: [{ id: 'p1', priceCents: model.price }] };
        },
      };
    const readModel = queryBus({ CatalogPage: page }, { db: null, progress: progress.source });
    const writeDb = queryBus({}, { db: null });
    const cache = inProcessCache();
    const reads = shopReads({
      mode: 'read-model',
      readModel: readModel as never,
      writeDb: writeDb as never,
      cache,
      headPosition: async () => 0n,
    });
    const ask = (after?: bigint) =>
      reads.read({ type: 'CatalogPage', data: {} } as never, {
        ...(after === undefined ? {} : { after }),
        waitMs: 5_000,
        cache: { key: 'catalog:*:1', tags: () => ['category:*', 'product:p1'] },
      });
    return { model, progress, cache, reads, ask };
  };

  it('`cached` answers what `read` answers from the in-process cache, at once, and only that', async () => {
    const { progress, cache, reads, ask } = setup();
    const key = 'catalog:*:1';
    const yes = () => true;
    expect(reads.cached(key, undefined, yes)).toBeUndefined(); // nothing cached yet
    progress.moveTo(5n);
    await ask(5n); // fills the cache
    const fromRead = await ask(5n);
    expect(fromRead.source).toBe('cache');
    const hits = cache.hits;
    const misses = cache.misses;
    expect(reads.cached(key, undefined, yes)).toEqual(fromRead);
    expect(reads.cached(key, 5n, yes)).toEqual(fromRead);
    // A token the entry does not reflect, or an answer the caller cannot use: `read` must answer.
    expect(reads.cached(key, 6n, yes)).toBeUndefined();
    expect(reads.cached(key, undefined, () => false)).toBeUndefined();
    expect(reads.cached('catalog:*:2', undefined, yes)).toBeUndefined();
    // Counted as a hit only when answered; a miss is counted by the `read` that follows.
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: hits + 2, misses });
    await cache.invalidate(['product:p1']);
    expect(reads.cached(key, undefined, yes)).toBeUndefined();
  });

  it('`cached` answers nothing in write-db mode', async () => {
    const cache = inProcessCache();
    await cache.set('k', { value: { n: 1 }, position: 1n }, [], await cache.ticket());
    const reads = shopReads({
      mode: 'write-db',
      readModel: queryBus({}, { db: null }) as never,
      writeDb: queryBus({}, { db: null }) as never,
      cache,
      headPosition: async () => 0n,
    });
    expect(reads.cached('k', undefined, () => true)).toBeUndefined();
  });

  it('caches an answer that had to wait for its token (the invalidation it waited for came first)', async () => {
    const { model, progress, cache, ask } = setup();
    const waited = progress.waited();
    const waiting = ask(5n);
    await waited;
    // The projector applies the change, invalidates its tags, then publishes its position.
    model.price = 1500;
    await cache.invalidate(['product:p1']);
    progress.moveTo(5n);
    const first = await waiting;
    expect(first).toMatchObject({ source: 'read-model', stale: false, position: 5n });
    const second = await ask(5n);
    expect(second.source).toBe('cache');
    expect(second.value).toEqual({ items: [{ id: 'p1', priceCents: 1500 }] });
  });

  it('does not cache an answer whose tags were invalidated while it was read', async () => {
    let cache: ReturnType<typeof setup>['cache'] | undefined;
    const s = setup(() => void cache?.invalidate(['product:p1']));
    cache = s.cache;
    s.progress.moveTo(5n);
    expect((await s.ask(5n)).source).toBe('read-model');
    expect((await s.ask(5n)).source).toBe('read-model');
  });
});
