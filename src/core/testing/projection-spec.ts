import type { Event, RecordedEvent } from '../messages.js';
import type { Projection, ReadStore } from '../projection.js';

/** Gives plain events the identity the log would: positions from `startAt + 1`, per-stream versions. */
export function toRecorded<E extends Event>(
  events: readonly (E & { streamId?: string })[],
  options: { streamId?: string; startAt?: bigint; recordedAt?: Date } = {},
): RecordedEvent<E>[] {
  const versions = new Map<string, bigint>();
  let position = options.startAt ?? 0n;
  return events.map((event, i) => {
    const streamId = event.streamId ?? options.streamId ?? 'test-stream';
    const version = (versions.get(streamId) ?? 0n) + 1n;
    versions.set(streamId, version);
    position++;
    return {
      ...event,
      id: `event-${position}-${i}`,
      streamId,
      streamVersion: version,
      position,
      recordedAt: options.recordedAt ?? new Date(0),
      metadata: event.metadata ?? {},
    } as RecordedEvent<E>;
  });
}

/**
 * Given / when / then for projections, against a real read store.
 * @example
 *   await projectionSpec(catalog, () => memoryReadStore())
 *     .given([productAdded]).when([priceUpdated])
 *     .thenState((db) => expect(db.get('catalog', 'p1')).toMatchObject({ priceCents: 900 }));
 */
export function projectionSpec<E extends Event, H>(
  projection: Projection<E, H>,
  makeStore: () => ReadStore<H>,
) {
  return {
    given(history: readonly (E & { streamId?: string })[]) {
      return {
        when(events: readonly (E & { streamId?: string })[]) {
          return {
            async thenState(check: (db: H) => void | Promise<void>): Promise<void> {
              const store = makeStore();
              const all = toRecorded([...history, ...events]);
              try {
                await store.setup([projection as unknown as Projection<Event, H>]);
                for (const batch of [all.slice(0, history.length), all.slice(history.length)]) {
                  if (batch.length === 0) continue;
                  const handled = batch.filter((e) => projection.handles.includes(e.type));
                  await store.transact((tx) => projection.apply(handled, tx.db));
                }
                await store.transact((tx) => check(tx.db));
              } finally {
                await store.close();
              }
            },
          };
        },
      };
    },
  };
}
