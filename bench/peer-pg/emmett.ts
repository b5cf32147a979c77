// Peer benchmark: the Emmett event store on PostgreSQL (@event-driven-io/emmett-postgresql),
// measured with the same workload shapes as our own store (bench/append-pg.ts,
// bench/command-pg.ts). Installed separately under bench/peer-pg; never shipped.
//
// The store is used as Emmett ships it: getPostgreSQLEventStore(connectionString), pooled,
// schema migrated once before the timed run. We hand it a plain pg.Pool (default settings) only
// to end it for sure afterwards: its own pool can keep idle connections past close(), and the
// benchmark drops each database at once (an idle connection killed then is an unhandled error).

import { performance } from 'node:perf_hooks';
import { type Command, DeciderCommandHandler, type Event } from '@event-driven-io/emmett';
import {
  getPostgreSQLEventStore,
  type PostgresEventStore,
  postgreSQLEventStoreConsumer,
  postgreSQLProjection,
} from '@event-driven-io/emmett-postgresql';
import pg from 'pg';

type ItemAdded = Event<'ItemAdded', { sku: string; quantity: number; note: string }>;
type Increment = Command<'Increment', { by: number }>;
type Incremented = Event<'Incremented', { by: number }>;

const note = 'x'.repeat(100);
const itemAdded = (n: number): ItemAdded => ({
  type: 'ItemAdded',
  data: { sku: `sku-${n}`, quantity: 1, note },
});

const counter = DeciderCommandHandler<{ count: number }, Increment, Incremented>({
  initialState: () => ({ count: 0 }),
  evolve: (state, event) => ({ count: state.count + event.data.by }),
  decide: (command) => ({ type: 'Incremented', data: { by: command.data.by } }),
});

async function withStore(url: string, run: (s: PostgresEventStore) => Promise<number>) {
  const pool = new pg.Pool({ connectionString: url });
  pool.on('error', () => {});
  const store = getPostgreSQLEventStore(url, {
    connectionOptions: { connectionString: url, pooled: true, pool },
  });
  try {
    await store.schema.migrate();
    return await run(store);
  } finally {
    await store.close();
    await pool.end().catch(() => {});
  }
}

/** `n` operations spread over `inFlight` workers; operations per second. */
async function rate(n: number, inFlight: number, op: (i: number, w: number) => Promise<unknown>) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async (_, w) => {
      while (next < n) await op(next++, w);
    }),
  );
  return Math.round((n / (performance.now() - t0)) * 1000);
}

/** Single-event appends with the exact expected version; `inFlight` workers, each on its own streams. */
export function peerAppends(url: string, n: number, inFlight: number): Promise<number> {
  return withStore(url, async (store) => {
    const versions = new Map<string, bigint>();
    return rate(n, inFlight, async (i, w) => {
      const stream = inFlight === 1 ? `s-${i % 1000}` : `w-${w}`;
      const r = await store.appendToStream(stream, [itemAdded(i)], {
        expectedStreamVersion: versions.get(stream) ?? 0n,
      });
      versions.set(stream, r.nextExpectedStreamVersion);
    });
  });
}

/** Appends of 100 events per call, one new stream each: events per second. */
export function peerBatch(url: string, batches: number): Promise<number> {
  const events = Array.from({ length: 100 }, (_, i) => itemAdded(i));
  return withStore(url, async (store) => {
    const eventsPerS = await rate(batches, 1, (b) =>
      store.appendToStream(`b-${b}`, events, { expectedStreamVersion: 0n }),
    );
    return eventsPerS * 100;
  });
}

/** Load -> decide -> append through Emmett's DeciderCommandHandler, as bench/command-pg.ts does. */
export function peerCommands(url: string, n: number, inFlight: number): Promise<number> {
  return withStore(url, (store) =>
    rate(n, inFlight, (i) =>
      counter(store, `counter-c-${i % Math.max(1, n / 4)}`, {
        type: 'Increment',
        data: { by: 1 },
      }),
    ),
  );
}

type Counted = Event<'Incremented', { counter: string; total: number }>;

/** The lag benchmark's counter: its event carries the counter's new total, as ours does. */
const totals = DeciderCommandHandler<
  { total: number },
  Command<'Increment', { counter: string; by: number }>,
  Counted
>({
  initialState: () => ({ total: 0 }),
  evolve: (_state, event) => ({ total: event.data.total }),
  decide: (command, state) => ({
    type: 'Incremented',
    data: { counter: command.data.counter, total: state.total + command.data.by },
  }),
});

/**
 * The projection-lag rig of bench/lag-pg.ts on Emmett: commands through `DeciderCommandHandler`
 * on 1,000 counters, and Emmett's asynchronous projection as shipped — a
 * `postgreSQLEventStoreConsumer` (it polls the log, every 50 ms when idle, 100 events a batch)
 * with a `postgreSQLProjector` whose projection upserts each counter's total. Emmett keeps such
 * a projection's table and checkpoint in the event store's database, one transaction per batch;
 * `onProjected` is told a batch's positions after that transaction has committed.
 */
export async function peerLagRig(url: string) {
  const pool = new pg.Pool({ connectionString: url });
  pool.on('error', () => {});
  const store = getPostgreSQLEventStore(url, {
    connectionOptions: { connectionString: url, pooled: true, pool },
  });
  await store.schema.migrate();
  await pool.query('CREATE TABLE bench_counters (id text PRIMARY KEY, total int NOT NULL)');
  const projection = postgreSQLProjection<Counted>({
    name: 'bench_counters',
    canHandle: ['Incremented'],
    handle: async (events, context) => {
      const latest = new Map(events.map((e) => [e.data.counter, e.data.total]));
      await context.connection.client.query(
        `INSERT INTO bench_counters (id, total) SELECT * FROM unnest($1::text[], $2::int[])
         ON CONFLICT (id) DO UPDATE SET total = excluded.total`,
        [[...latest.keys()], [...latest.values()]],
      );
    },
  });
  const consumer = postgreSQLEventStoreConsumer({ connectionString: url });
  const processor = consumer.projector({ projection });
  const listeners: Array<(positions: readonly bigint[]) => void> = [];
  const handle = processor.handle;
  processor.handle = async (messages, context) => {
    // Resolves after the batch's transaction committed.
    const result = await handle(messages, context);
    const positions = messages.map((m) => m.metadata.globalPosition);
    for (const l of listeners) l(positions);
    return result;
  };
  let running: Promise<void> | undefined;
  return {
    command: async (i: number): Promise<bigint> =>
      (
        await totals(store, `counter-c-${i % 1000}`, {
          type: 'Increment',
          data: { counter: `c-${i % 1000}`, by: 1 },
        })
      ).lastEventGlobalPosition,
    onProjected: (l: (positions: readonly bigint[]) => void) => void listeners.push(l),
    start: async () => {
      running = consumer.start();
    },
    stop: async () => {
      await consumer.close();
      await running;
      await store.close();
      await pool.end().catch(() => {});
    },
  };
}
