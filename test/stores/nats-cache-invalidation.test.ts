import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointProgress } from '../../src/core/checkpoint-progress.js';
import type { RecordedEvent } from '../../src/core/messages.js';
import type { Checkpoint } from '../../src/core/projection.js';
import { CatalogCacheTags } from '../../src/shop/cache-tags.js';
import { InProcessCache } from '../../src/stores/memory/index.js';
import {
  type EventSubscription,
  NatsRelay,
  natsCacheInvalidation,
  natsEventSubscription,
  projectedInvalidation,
} from '../../src/stores/nats/index.js';
import { natsFixture } from './nats-helpers.js';
import { eventually, NATS_URL, requireService } from './services.js';

const available = await requireService(NATS_URL);

describe.skipIf(!available)('cache invalidation from the event stream', () => {
  let f: Awaited<ReturnType<typeof natsFixture>>;
  let relay: NatsRelay;
  const subs: EventSubscription[] = [];
  // The catalog checkpoint as another process (the projector worker) writes it.
  let catalogAt = 0n;
  const checkpoints = async () =>
    new Map<string, Checkpoint>([
      ['catalog', { name: 'catalog', version: 1, position: catalogAt, status: 'running' }],
    ]);
  const priceUpdated = (productId: string) =>
    f.store.append(`product-${productId}`, [
      { type: 'ProductPriceUpdated', data: { productId, priceCents: 5 } },
    ]);
  const fill = async (cache: InProcessCache, productId: string) =>
    cache.set(
      `product:${productId}`,
      { value: { productId }, position: catalogAt },
      [`product:${productId}`],
      await cache.ticket(),
    );

  beforeEach(async () => {
    f = await natsFixture();
    catalogAt = 0n;
    relay = new NatsRelay({ log: f.store, ...f.target });
    relay.start();
  });
  afterEach(async () => {
    for (const s of subs.splice(0)) await s.close();
    await relay.stop();
    await f.cleanup();
  });

  it('invalidates only once the read model has applied the event, never before', async () => {
    const cache = new InProcessCache();
    const progress = new CheckpointProgress(checkpoints, 10);
    await progress.refresh();
    const rule = projectedInvalidation({
      cache,
      progress,
      projection: 'catalog',
      tagsFor: (events) => new CatalogCacheTags().tagsFor(events),
      headPosition: () => f.store.headPosition(),
    });
    const received: bigint[] = [];
    const sub = natsEventSubscription({
      ...f.target,
      onEvents: async (events: readonly RecordedEvent[]) => {
        received.push(...events.map((e) => e.position));
        await rule.onEvents(events);
      },
    });
    subs.push(sub);
    await sub.ready;
    await fill(cache, 'p1');
    await fill(cache, 'p2');
    const { lastPosition } = await priceUpdated('p1');
    await eventually(() => received.includes(lastPosition), 'event delivered');
    // The read model has not applied it: dropping the entry now would let a query re-fill it
    // from the old model. It stays, and so does what a re-fill would store.
    expect(await cache.get('product:p1')).toBeDefined();
    expect(await fill(cache, 'p1')).toBe(true);
    catalogAt = lastPosition; // the projector worker commits the change
    await eventually(async () => (await cache.get('product:p1')) === undefined, 'invalidation');
    expect(await cache.get('product:p2')).toBeDefined();
  });

  it('natsCacheInvalidation: clears entries made before it subscribed, then follows the stream', async () => {
    const cache = new InProcessCache();
    const progress = new CheckpointProgress(checkpoints, 10);
    await f.append(5); // products p0…p4
    catalogAt = await f.store.headPosition();
    await eventually(() => relay.status().position === catalogAt, 'relay caught up');
    await progress.refresh();
    await fill(cache, 'before'); // filled before the subscription existed: cleared once caught up
    const tags = new CatalogCacheTags();
    const sub = natsCacheInvalidation({
      ...f.target,
      cache,
      progress,
      projection: 'catalog',
      tagsFor: (events) => tags.tagsFor(events),
      headPosition: () => f.store.headPosition(),
    });
    subs.push(sub);
    await sub.ready;
    await eventually(async () => (await cache.get('product:before')) === undefined, 'clear');
    await fill(cache, 'q3');
    await fill(cache, 'q4');
    const { lastPosition } = await priceUpdated('q3');
    catalogAt = lastPosition;
    await eventually(async () => (await cache.get('product:q3')) === undefined, 'invalidation');
    expect(await cache.get('product:q4')).toBeDefined();
  });
});
