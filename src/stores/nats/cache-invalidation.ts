import type { Cache } from '../../core/cache.js';
import { type ProgressSource, waitFor } from '../../core/consistency.js';
import type { RecordedEvent } from '../../core/messages.js';
import type { NatsTarget } from './stream.js';
import { type EventSubscription, natsEventSubscription } from './subscriber.js';

export interface ProjectedInvalidationOptions {
  readonly cache: Cache;
  /** Where this node's read model stands (its projector, or `CheckpointProgress`). */
  readonly progress: ProgressSource;
  /** The projection the cached answers are read from (e.g. `catalog`). */
  readonly projection: string;
  /** The tags an event batch makes stale (called in stream order, once per batch). */
  readonly tagsFor: (events: readonly RecordedEvent[]) => readonly string[];
  /** The log head (to close the gap before the subscription existed). */
  readonly headPosition: () => Promise<bigint>;
  /** Invalidate anyway after this long when the projection does not get there (default 30 s). */
  readonly maxWaitMs?: number;
}

/**
 * The rule for invalidating a cache from raw events: an event at position P makes an entry stale
 * only once the read model the entry is filled from has applied P. Invalidating earlier is not
 * enough: a query between the invalidation and the projection would read the old model and
 * store the old answer again, for a whole TTL. So each batch is invalidated when the projection
 * has reached the batch's last position (`waitFor`), exactly as the in-process projector's
 * `onApplied` does; if it does not get there within `maxWaitMs` (a failed or stopped projector),
 * the tags are invalidated anyway. Events committed before the subscription existed are never
 * delivered, so `caughtUp` clears the cache once the projection passes the head seen after
 * subscribing.
 */
export function projectedInvalidation(options: ProjectedInvalidationOptions) {
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  return {
    async onEvents(events: readonly RecordedEvent[]): Promise<void> {
      const last = events.at(-1);
      if (!last) return;
      const tags = options.tagsFor(events);
      if (tags.length === 0) return;
      await waitFor(options.progress, last.position, [options.projection], maxWaitMs);
      await options.cache.invalidate(tags);
    },
    async caughtUp(): Promise<void> {
      const head = await options.headPosition();
      await waitFor(options.progress, head, [options.projection], maxWaitMs);
      await options.cache.clear();
    },
  };
}

export interface NatsCacheInvalidationOptions extends ProjectedInvalidationOptions, NatsTarget {
  readonly onError?: (error: Error) => void;
}

/**
 * Keeps an API node's in-process cache fresh for changes projected by other nodes: follows the
 * event stream from now and invalidates by `projectedInvalidation`'s rule.
 * @example
 *   const sub = natsCacheInvalidation({ servers: 'nats://127.0.0.1:4222', cache, progress,
 *     projection: 'catalog', tagsFor: (e) => tags.tagsFor(e), headPosition: () => store.headPosition() });
 *   await sub.ready; // … serve …; await sub.close();
 */
export function natsCacheInvalidation(options: NatsCacheInvalidationOptions): EventSubscription {
  const rule = projectedInvalidation(options);
  return natsEventSubscription({
    servers: options.servers,
    ...(options.stream === undefined ? {} : { stream: options.stream }),
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    ...(options.onError === undefined ? {} : { onError: options.onError }),
    onEvents: (events) => rule.onEvents(events),
    // not awaited: the node serves meanwhile; entries made before this clear are dropped by it
    onSubscribed: () => {
      rule.caughtUp().catch((error: unknown) => options.onError?.(error as Error));
    },
  });
}
