// Peer benchmark: the Emmett event store on SQLite (@event-driven-io/emmett-sqlite),
// measured with the same workload shapes as our own store so the runner can print
// the two side by side. Installed separately under bench/peer; never shipped.
//
// The store is used as Emmett ships it for a file database: getSQLiteEventStore({ fileName })
// with its default pool, which opens a fresh node-sqlite3 connection for every store call
// (running only `PRAGMA journal_mode = WAL` on it) and closes it afterwards.

import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Command, DeciderCommandHandler, type Event } from '@event-driven-io/emmett';
import {
  getSQLiteEventStore,
  type SQLiteConnectionPool as Pool,
  SQLiteConnectionPool,
  type SQLiteEventStore,
  sqliteConnection,
} from '@event-driven-io/emmett-sqlite';
import sqlite3 from 'sqlite3';

export interface PeerOptions {
  dir: string;
  quick: boolean;
}

export interface PeerFigures {
  /** sequential single-event appends with an expected-version check, one commit each */
  peer_appends_per_s: number;
  /** 50 single-event appends in flight at once, each on its own stream; whole run */
  peer_concurrent_appends_per_s: number;
  /** appends of 100 events per call, in events/s */
  peer_batch_events_per_s: number;
  /** load -> decide -> append through Emmett's DeciderCommandHandler, distinct streams, sequential */
  peer_commands_per_s: number;
  /** PRAGMA synchronous read back from a connection opened exactly as the store opens its own */
  peer_sqlite_synchronous: string;
}

type ItemAdded = Event<'ItemAdded', { sku: string; quantity: number; note: string }>;
type Increment = Command<'Increment', { by: number }>;
type Incremented = Event<'Incremented', { by: number }>;

const NOTE =
  'peer benchmark payload: a note of roughly one hundred characters to give each event a realistic size.';

const itemAdded = (n: number): ItemAdded => ({
  type: 'ItemAdded',
  data: { sku: `sku-${n}`, quantity: 1, note: NOTE },
});

const CONCURRENCY = 50;
const EVENTS_PER_STREAM = 10; // sequential appends: stream k gets 10 events, each version-checked
const BATCH_SIZE = 100;
const BATCHES_PER_STREAM = 5;

interface Plan {
  appends: number;
  batches: number;
  commands: number;
  /** untimed operations before each timed run */
  warmup: number;
  /** each timed run stops early (and is rated on what it completed) past this */
  capMs: number;
  /** the same for the concurrent run, which overshoots it (see concurrentAppends) */
  concurrentCapMs: number;
}

const QUICK: Plan = {
  appends: 1_000,
  batches: 20,
  commands: 200,
  warmup: 20,
  capMs: 2_000,
  concurrentCapMs: 1_000,
};
const FULL: Plan = {
  appends: 10_000,
  batches: 200,
  commands: 2_000,
  warmup: 100,
  capMs: 15_000,
  concurrentCapMs: 8_000,
};

const counter = DeciderCommandHandler<{ count: number }, Increment, Incremented>({
  initialState: () => ({ count: 0 }),
  evolve: (state, event) => ({ count: state.count + event.data.by }),
  decide: (command) => ({
    type: 'Incremented',
    data: { by: command.data.by },
  }),
});

interface Opened {
  store: SQLiteEventStore;
  pool: Pool;
}

// The pool is what getSQLiteEventStore would build itself; we pass it in only to be
// able to close it at the end.
const open = async (fileName: string): Promise<Opened> => {
  const pool = SQLiteConnectionPool({ fileName });
  const store = getSQLiteEventStore({ fileName, pool });
  await store.schema.migrate();
  return { store, pool };
};

const withStore = async <T>(
  fileName: string,
  run: (store: SQLiteEventStore) => Promise<T>,
): Promise<T> => {
  const { store, pool } = await open(fileName);
  try {
    return await run(store);
  } finally {
    await pool.close();
  }
};

/** Failed attempts that were retried, per measured figure. */
type Tally = Record<string, number>;

const GAVE_UP = Symbol('gave up');
const MAX_CONSECUTIVE_RETRIES = 50;

/**
 * Runs op until it succeeds, retrying the failures that Emmett's store raises without
 * having written anything (see isRetryable); gives up once stop() says so.
 */
const withRetries = async <T>(
  tally: Tally,
  key: string,
  op: () => Promise<T>,
  stop: () => boolean = () => false,
): Promise<T | typeof GAVE_UP> => {
  for (let failures = 0; ; ) {
    try {
      return await op();
    } catch (error) {
      if (!isRetryable(error) || ++failures > MAX_CONSECUTIVE_RETRIES) throw error;
      tally[key] = (tally[key] ?? 0) + 1;
      if (stop()) return GAVE_UP;
    }
  }
};

/** Runs op(0..count-1) one after another, stopping early once capMs has passed. */
const timed = async (
  tally: Tally,
  key: string,
  count: number,
  capMs: number,
  op: (n: number) => Promise<unknown>,
): Promise<{ done: number; ms: number }> => {
  const t0 = performance.now();
  let done = 0;
  while (done < count && performance.now() - t0 < capMs) {
    await withRetries(tally, key, () => op(done));
    done++;
  }
  return { done, ms: performance.now() - t0 };
};

/** per second; whole numbers, except below 100/s where two decimals are kept */
const rate = (count: number, ms: number): number => {
  if (ms <= 0) return 0;
  const perSecond = (count / ms) * 1000;
  return perSecond >= 100 ? Math.round(perSecond) : Math.round(perSecond * 100) / 100;
};

// Stream k = `${prefix}-k` takes EVENTS_PER_STREAM single-event appends, each passing the
// exact expected version (0n creates the stream).
const appendOne = (store: SQLiteEventStore, prefix: string, n: number) =>
  store.appendToStream(`${prefix}-${Math.floor(n / EVENTS_PER_STREAM)}`, [itemAdded(n)], {
    expectedStreamVersion: BigInt(n % EVENTS_PER_STREAM),
  });

const measureAppends = (dir: string, plan: Plan, tally: Tally): Promise<number> =>
  withStore(join(dir, 'appends.db'), async (store) => {
    await timed(tally, 'warm-up', plan.warmup, plan.capMs, (n) => appendOne(store, 'warm', n));
    const { done, ms } = await timed(tally, 'appends', plan.appends, plan.capMs, (n) =>
      appendOne(store, 'item', n),
    );
    return rate(done, ms);
  });

// Emmett's store fails some appends outright, and an application has to retry them:
// - Under contention, BEGIN IMMEDIATE gives up with SQLITE_BUSY after node-sqlite3's
//   default 1 s busy timeout; Emmett's withTransaction then tries a ROLLBACK of the
//   transaction that never began, so the caller sees "SQLITE_ERROR: cannot rollback -
//   no transaction is active" (after Emmett console.logs the SQLITE_BUSY).
// - Even sequentially, now and then (about once per few thousand appends here) COMMIT fails with
//   "SQLITE_BUSY: cannot commit transaction - SQL statements in progress": Emmett runs its
//   INSERT/UPDATE ... RETURNING through db.get(), whose statement node-sqlite3 finalizes
//   asynchronously, racing the COMMIT. Emmett then rolls back and rethrows.
// Nothing is written in either case, so the same call (same expected version) is retried.
const isRetryable = (error: unknown): boolean => {
  if (typeof error !== 'object' || error === null) return false;
  const code = 'code' in error ? error.code : undefined;
  const message = error instanceof Error ? error.message : '';
  return (
    code === 'SQLITE_BUSY' ||
    (code === 'SQLITE_ERROR' && message.includes('cannot rollback - no transaction is active'))
  );
};

// Emmett's withTransaction does console.log(err) for every failed transaction (dozens of
// lines on stdout in the concurrent run), so such lone-Error logs are dropped while the
// peer runs; the retries are reported in one warning instead. Other logs pass through.
const muteErrorLogs = <T>(run: () => Promise<T>): Promise<{ result: T; muted: number }> => {
  const original = console.log;
  let muted = 0;
  console.log = (...args: unknown[]) => {
    if (args.length === 1 && args[0] instanceof Error) {
      muted++;
      return;
    }
    original.apply(console, args);
  };
  return run().then(
    (result) => {
      console.log = original;
      return { result, muted };
    },
    (error: unknown) => {
      console.log = original;
      throw error;
    },
  );
};

// CONCURRENCY workers, each owning one stream and appending one event at a time with the
// expected version, so CONCURRENCY appends on distinct streams are always in flight.
// No new append starts after concurrentCapMs, but the run ends well past it: node-sqlite3
// runs each statement on libuv's thread pool (4 threads by default), and every losing
// BEGIN IMMEDIATE occupies a thread for its whole 1 s busy timeout, so the lock holder's
// next statement waits behind them and one round of 50 attempts takes ~49 s / 4 threads
// (~13 s on the 2-core dev box, with 1 success). The event loop also stalls (mean delay
// ~0.9 s there) on connection mutexes held by those waiting threads.
const concurrentAppends = async (
  store: SQLiteEventStore,
  tally: Tally,
  count: number,
  capMs: number,
): Promise<{ done: number; ms: number }> => {
  const t0 = performance.now();
  const expired = () => performance.now() - t0 >= capMs;
  let issued = 0;
  let done = 0;
  const worker = async (w: number): Promise<void> => {
    const stream = `conc-${w}`;
    let version = 0n;
    while (issued < count && !expired()) {
      const n = issued++;
      const result = await withRetries(
        tally,
        'concurrent appends',
        () => store.appendToStream(stream, [itemAdded(n)], { expectedStreamVersion: version }),
        expired,
      );
      if (result === GAVE_UP) return;
      version = result.nextExpectedStreamVersion;
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  return { done, ms: performance.now() - t0 };
};

const measureConcurrent = (dir: string, plan: Plan, tally: Tally): Promise<number> =>
  withStore(join(dir, 'concurrent.db'), async (store) => {
    // Warm-up is sequential: concurrency itself is what is being measured.
    await timed(tally, 'warm-up', plan.warmup, plan.capMs, (n) => appendOne(store, 'warm', n));
    const { done, ms } = await concurrentAppends(store, tally, plan.appends, plan.concurrentCapMs);
    if (done < CONCURRENCY)
      process.emitWarning(
        `emmett peer: only ${done} concurrent appends succeeded in ${Math.round(ms)} ms`,
      );
    return rate(done, ms);
  });

const appendBatch = (store: SQLiteEventStore, prefix: string, b: number) =>
  store.appendToStream(
    `${prefix}-${Math.floor(b / BATCHES_PER_STREAM)}`,
    Array.from({ length: BATCH_SIZE }, (_, i) => itemAdded(b * BATCH_SIZE + i)),
    { expectedStreamVersion: BigInt((b % BATCHES_PER_STREAM) * BATCH_SIZE) },
  );

const measureBatches = (dir: string, plan: Plan, tally: Tally): Promise<number> =>
  withStore(join(dir, 'batch.db'), async (store) => {
    await timed(tally, 'warm-up', 2, plan.capMs, (b) => appendBatch(store, 'warm', b));
    const { done, ms } = await timed(tally, 'batches', plan.batches, plan.capMs, (b) =>
      appendBatch(store, 'cart', b),
    );
    return rate(done * BATCH_SIZE, ms);
  });

const increment = (store: SQLiteEventStore, stream: string) =>
  counter(store, stream, { type: 'Increment', data: { by: 1 } });

// A failed command is retried whole (load -> decide -> append): the failed append wrote
// nothing, so the decider sees the same state again.
const measureCommands = (dir: string, plan: Plan, tally: Tally): Promise<number> =>
  withStore(join(dir, 'commands.db'), async (store) => {
    await timed(tally, 'warm-up', plan.warmup, plan.capMs, (n) =>
      increment(store, `counter-warm-${n}`),
    );
    const { done, ms } = await timed(tally, 'commands', plan.commands, plan.capMs, (n) =>
      increment(store, `counter-${n}`),
    );
    return rate(done, ms);
  });

const SYNCHRONOUS = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

// PRAGMAs are per connection, and the store opens every connection through
// sqliteConnection({ fileName }); a connection opened the same way shows what it ran with.
const readSynchronous = async (fileName: string): Promise<string> => {
  const connection = sqliteConnection({ fileName });
  try {
    const sync = await connection.querySingle<{ synchronous: number }>('PRAGMA synchronous');
    const journal = await connection.querySingle<{ journal_mode: string }>('PRAGMA journal_mode');
    if (journal?.journal_mode?.toLowerCase() !== 'wal')
      process.emitWarning(`emmett peer: journal_mode read back as ${journal?.journal_mode}`);
    const level = sync?.synchronous;
    if (level === undefined) return 'unknown';
    return SYNCHRONOUS[level] ?? String(level);
  } finally {
    connection.close();
  }
};

// Emmett's sqliteConnection() fires `db.run('PRAGMA journal_mode = WAL;')` without a
// callback and then runs its own statements at once; node-sqlite3 may run the two in
// parallel, and when BEGIN wins, the PRAGMA fails ("cannot change into wal mode from
// within a transaction"). With no callback, node-sqlite3 emits that as an 'error' event
// nobody listens to, which crashes the process (seen once in two full runs here). While
// the peer runs, callback-less Database#run calls (only that PRAGMA) get a callback that
// counts such errors instead. The database file is already in WAL mode by then, so the
// failed PRAGMA changes nothing else.
const catchUnawaitedRunErrors = (failures: { count: number }): (() => void) => {
  const proto = sqlite3.Database.prototype;
  const original = proto.run;
  const run = function (this: sqlite3.Database, ...args: unknown[]) {
    if (typeof args[args.length - 1] !== 'function')
      args.push((error: Error | null) => {
        if (error) failures.count++;
      });
    return Reflect.apply(original, this, args) as sqlite3.Database;
  };
  proto.run = run as typeof proto.run;
  return () => {
    proto.run = original;
  };
};

export async function measurePeer(opts: PeerOptions): Promise<PeerFigures> {
  const plan = opts.quick ? QUICK : FULL;
  const tally: Tally = {};
  const pragmaFailures = { count: 0 };
  const restoreRun = catchUnawaitedRunErrors(pragmaFailures);
  try {
    const { result: figures } = await muteErrorLogs(
      async (): Promise<PeerFigures> => ({
        peer_appends_per_s: await measureAppends(opts.dir, plan, tally),
        peer_concurrent_appends_per_s: await measureConcurrent(opts.dir, plan, tally),
        peer_batch_events_per_s: await measureBatches(opts.dir, plan, tally),
        peer_commands_per_s: await measureCommands(opts.dir, plan, tally),
        peer_sqlite_synchronous: await readSynchronous(join(opts.dir, 'appends.db')),
      }),
    );
    const retried = Object.entries(tally).map(([key, n]) => `${key} ${n}`);
    const notes: string[] = [];
    if (retried.length > 0) notes.push(`attempts retried after SQLITE_BUSY: ${retried.join(', ')}`);
    if (pragmaFailures.count > 0)
      notes.push(
        `Emmett's un-awaited PRAGMA journal_mode failed ${pragmaFailures.count}x (caught)`,
      );
    if (notes.length > 0) process.emitWarning(`emmett peer: ${notes.join('; ')}`);
    return figures;
  } finally {
    restoreRun();
  }
}
