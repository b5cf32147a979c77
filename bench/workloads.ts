// The workloads of the append and command benchmarks, run alike on every store (SQLite in
// bench/append.ts and bench/command.ts, PostgreSQL in bench/append-pg.ts and bench/command-pg.ts).
import {
  type Command,
  type CommandResult,
  commandBus,
  type Decider,
  type Event,
  type EventLog,
  eventSourcedHandler,
  type WriteStore,
} from '../src/core/index.js';
import { rate } from './lib.js';

const note = 'x'.repeat(100);

/** The benchmarks' event: ~150 bytes of JSON. */
export const event = (i: number): Event => ({
  type: 'ItemAdded',
  data: { sku: `sku-${i}`, quantity: 1, note },
});

/** Runs `op(i)` for i in 0..n-1 from `inFlight` workers at once (worker `w` passed along). */
export function inFlight(
  n: number,
  workers: number,
  op: (i: number, w: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const worker = async (w: number) => {
    while (next < n) await op(next++, w);
  };
  return rate(n, () => Promise.all(Array.from({ length: workers }, (_, w) => worker(w))).then());
}

/** Single-event appends with an exact expected-version check, awaited one by one, on 1,000 streams. */
export function sequentialAppends(log: EventLog, n: number): Promise<number> {
  const versions = new Map<string, bigint>();
  return inFlight(n, 1, async (i) => {
    const stream = `s-${i % 1000}`;
    const v = versions.get(stream) ?? 0n;
    const r = await log.append(stream, [event(i)], {
      expectedVersion: v === 0n ? 'no_stream' : v,
    });
    versions.set(stream, r.streamVersion);
  });
}

/** `workers` appends in flight, each worker on its own stream; each answered after its commit. */
export function concurrentAppends(log: EventLog, n: number, workers = 50): Promise<number> {
  const versions = new Map<number, bigint>();
  return inFlight(n, workers, async (i, w) => {
    const v = versions.get(w) ?? 0n;
    const r = await log.append(`w-${w}`, [event(i)], {
      expectedVersion: v === 0n ? 'no_stream' : v,
    });
    versions.set(w, r.streamVersion);
  });
}

/** Appends of 100 events per call, one stream each: events per second. */
export function batchAppends(log: EventLog, batches: number): Promise<number> {
  const events = Array.from({ length: 100 }, (_, i) => event(i));
  return rate(batches * 100, async () => {
    for (let b = 0; b < batches; b++)
      await log.append(`b-${b}`, events, { expectedVersion: 'no_stream' });
  });
}

type Increment = Command<'Increment', { counter: string; by: number }>;
type Incremented = { type: 'Incremented'; data: { counter: string; by: number; total: number } };

const counter: Decider<number, Increment, Incremented> = {
  initialState: () => 0,
  evolve: (_total, e) => e.data.total,
  decide: (c, total) => ({
    type: 'Incremented',
    data: { counter: c.data.counter, by: c.data.by, total: total + c.data.by },
  }),
};

/**
 * Load -> decide -> append through the command bus (`eventSourcedHandler`): command `i` increments
 * counter `i % streams`. Each command records one event.
 */
export function counterCommands<H>(
  store: WriteStore<H>,
  streams: number,
): (i: number) => Promise<CommandResult> {
  const bus = commandBus({
    Increment: eventSourcedHandler(store, {
      decider: counter,
      streamId: (c: Increment) => `counter-${c.data.counter}`,
    }),
  });
  return (i) => bus.dispatch({ type: 'Increment', data: { counter: `c-${i % streams}`, by: 1 } });
}

/**
 * `n` counter commands, `workers` in flight, on n / 4 streams: each counter gets a few
 * increments, as aggregates do.
 */
export function commands<H>(store: WriteStore<H>, n: number, workers: number): Promise<number> {
  return inFlight(n, workers, counterCommands(store, Math.max(1, n / 4)));
}
