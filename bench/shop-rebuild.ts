// The shop's own catalog projection rebuilt blue/green from a large log into SQLite (beside the
// bare-driver ceiling of the same run), and catalog query latency before and during the rebuild.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  type EventLog,
  mapReadStore,
  mapWriteStore,
  projector,
  queryBus,
  type ReadStore,
  timeOrderedId,
} from '../src/core/index.js';
import { bulkSeed } from '../src/shop/bulk-seed.js';
import { catalogProjection } from '../src/shop/catalog/projection.js';
import { shopQueryHandlers } from '../src/shop/query-handlers.js';
import type { ProjectionDb } from '../src/shop/read-db.js';
import { shopMigrations } from '../src/shop/schema.js';
import {
  migrate,
  SqliteEventStore,
  SqliteReadStore,
  sqliteFullText,
  sqliteSql,
  sqliteWorkerSql,
} from '../src/stores/sqlite/index.js';
import { median, ratio } from './lib.js';
import { type RebuildDriver, rebuildOnThread, watchPhases } from './rebuild-thread.js';

/**
 * Catalog queries a second during the rebuild (`--query-rate`): about the flash sale's level-2
 * catalog rate, and well below what the queries' thread answers; 0 asks them in a closed loop.
 */
export const DEFAULT_QUERY_RATE = 250;
/** Unanswered queries past which the open model gives up (the stack cannot keep the rate). */
const MAX_IN_FLIGHT = 10_000;

/** Products and reviews giving about `events` events (4 per product with 3 warehouses). */
export function plan(events: number) {
  const products = Math.round(events / 10);
  return { categories: 50, products, reviews: Math.max(0, events - 50 - 1000 - products * 4) };
}

/** Writes the shop's events (products, stock, reviews) into a fresh write DB; returns the head. */
export async function seedShopLog(writePath: string, events: number): Promise<number> {
  const store = new SqliteEventStore({ path: writePath });
  migrate(store.db, shopMigrations);
  await sqliteFullText.setup(sqliteSql(store.db), 'products_fts');
  const seeded = await bulkSeed(mapWriteStore(store, sqliteSql), sqliteFullText, {
    ...plan(events),
    newId: timeOrderedId,
    now: new Date('2026-01-01T00:00:00Z'),
  });
  await store.close();
  return seeded.events;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

/** What the rebuild measurement needs of a stack: the log, the read store, a query handle. */
export interface RebuildStack {
  readonly log: EventLog;
  readonly store: ReadStore<ProjectionDb>;
  /** A read-only handle on the read DB for the queries. */
  readonly reader: ProjectionDb;
  /** Writes out what the last build left dirty (SQLite: checkpoints the WAL and syncs; PostgreSQL: CHECKPOINT). */
  readonly settle?: () => Promise<void>;
  /** The projector on a thread of its own (as `serve` runs it on SQLite), else on this one. */
  readonly onThread?: (batchSize: number) => RebuildDriver;
  close(): Promise<void>;
}

/**
 * The embedded stack: the write DB's log and a fresh SQLite read DB. The queries run as `serve`
 * runs them with `TWOROOMS_READ_THREADS=readThreads`: on that many reader threads, or with 0 on a
 * read-only connection of this thread; the projector on a thread of its own with
 * `projectorThread` (as `serve` runs it, `TWOROOMS_PROJECT_THREAD`), else on this thread too.
 */
export function sqliteRebuildStack(
  writePath: string,
  dir: string,
  readThreads: number,
  projectorThread = false,
): RebuildStack {
  const log = new SqliteEventStore({ path: writePath });
  const readPath = join(dir, 'shop-read.db');
  // As `serve` opens it: the connection that commits (the projector's) checkpoints the WAL on a
  // thread of its own, not in its commits.
  const read = new SqliteReadStore({ path: readPath, backgroundCheckpoints: !projectorThread });
  const reader =
    readThreads > 0
      ? sqliteWorkerSql(readPath, readThreads)
      : (() => {
          const db = read.readOnly();
          return { ...sqliteSql(db), close: async () => void db.close() };
        })();
  return {
    log,
    store: mapReadStore(read, (db) => ({ sql: sqliteSql(db), fullText: sqliteFullText })),
    reader: { sql: reader, fullText: sqliteFullText },
    async settle() {
      const db = new Database(readPath);
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        db.close();
      }
      execFileSync('sync');
    },
    ...(projectorThread
      ? { onThread: (batchSize: number) => rebuildOnThread({ writePath, readPath, batchSize }) }
      : {}),
    async close() {
      await reader.close();
      await read.close();
      await log.close();
    },
  };
}

/**
 * Builds the live catalog, then measures: catalog-page latency with the projector idle (before),
 * a blue/green rebuild of the catalog (events/s over the whole log) and the same latency while it
 * runs and switches (during), `rounds` times over (each figure the median of the rounds).
 * Queries run in the projector's process, as `serve` runs them (on its event loop or on reader
 * threads, as the stack was opened), the projector on this thread or on its own
 * (`stack.onThread`).
 */
export async function catalogRebuild(
  stack: RebuildStack,
  total: number,
  batchSize = 2000,
  queryRate = DEFAULT_QUERY_RATE,
  rounds = 1,
  ceiling?: (run: number) => Promise<number>,
): Promise<Record<string, number>> {
  const driver = stack.onThread?.(batchSize) ?? inProcess(stack, batchSize);
  const queries = queryBus(shopQueryHandlers('read-model'), { db: stack.reader });
  const pages = Math.max(1, Math.floor(plan(total).products / 24));
  let n = 0;
  const trace = Boolean(process.env['BENCH_REBUILD_TRACE']);
  /** The longest single queries (their own run, from when they were asked), for the trace. */
  const longest: [at: number, ms: number][] = [];
  const once = async () => {
    const t = performance.now();
    await queries.ask({ type: 'CatalogPage', data: { page: 1 + ((n++ * 7919) % pages) } });
    const ms = performance.now() - t;
    if (trace && ms > 10) longest.push([t, ms]);
    return ms;
  };
  const turn = () => new Promise<void>((r) => setImmediate(r));
  // The shop's traffic. At `queryRate` a second (an open model): each query is sent when due,
  // whether or not the ones before have answered, and timed from when it was due, so a stall
  // counts for every query due during it. At 0, one query after another as fast as they answer
  // (a closed loop, which keeps a core busy).
  const interval = queryRate > 0 ? 1000 / queryRate : 0;
  /** Asks queries until `stop()` (or `count` of them): each one's due time and duration. */
  const traffic = async (stop: () => boolean, count = Infinity) => {
    const timed: [number, number][] = [];
    if (interval === 0) {
      while (!stop() && timed.length < count) {
        const t = performance.now();
        timed.push([t, await once()]);
        await turn();
      }
      return timed;
    }
    const inFlight = new Set<Promise<void>>();
    let due = performance.now();
    let sent = 0;
    while (!stop() && sent < count) {
      // What is due by now goes out (16 at most before the loop yields a turn: a query may run
      // on this thread), then the loop waits for the next slot.
      for (let burst = 0; burst < 16 && due <= performance.now() && sent < count; burst++) {
        const scheduled = due;
        const asked: Promise<void> = once().then(() => {
          timed.push([scheduled, performance.now() - scheduled]);
          inFlight.delete(asked);
        });
        inFlight.add(asked);
        sent++;
        due += interval;
      }
      if (inFlight.size > MAX_IN_FLIGHT)
        throw new Error(
          `the queries fall behind their rate (${queryRate}/s, --query-rate or --pg-query-rate): ${inFlight.size} unanswered (lower it)`,
        );
      const wait = due - performance.now();
      await (wait >= 1 ? new Promise<void>((r) => setTimeout(r, wait)) : turn());
    }
    await Promise.all(inFlight);
    return timed;
  };
  /** One round: the projector idle (before), then a rebuild with its switch (during). */
  const round = async (): Promise<Record<string, number>> => {
    // "Before" is the projector idle: the live catalog's build (or the last round's rebuild)
    // leaves a WAL to checkpoint and dirty pages for the kernel to write back.
    await stack.settle?.();
    const beforeCount = interval === 0 ? 3000 : Math.max(500, Math.round(queryRate * 3));
    const before = (await traffic(() => false, beforeCount)).map(([, ms]) => ms);
    // Each query's due time and duration; the switch's start and end, told by the projector.
    let switchedAt: [number, number] | undefined;
    let switchStart: number | undefined;
    let done = false;
    const started = performance.now();
    const startedAt = new Date();
    let finished = started;
    const phases: [string, number][] = [];
    const rebuilt = driver
      .rebuild((phase, at) => {
        phases.push([phase, at]);
        if (phase === 'switching' && switchStart === undefined) switchStart = at;
        if (phase === 'done' && switchStart !== undefined && !switchedAt)
          switchedAt = [switchStart, at];
      })
      .finally(() => {
        done = true;
        finished = performance.now();
      });
    const during = await traffic(() => done);
    await rebuilt;
    const seconds = (finished - started) / 1000;
    // BENCH_REBUILD_TRACE=1: when the rebuild's phases began and the slowest queries were due.
    if (trace) {
      const ms = (t: number) => `${(t - started).toFixed(0)} ms`;
      console.log(
        `rebuild began ${startedAt.toISOString()}; phases: ${phases.map(([p, t]) => `${p} at ${ms(t)}`).join(', ')}`,
      );
      console.log(`finished at ${ms(finished)}`);
      const slowest = [...during].sort((a, b) => b[1] - a[1]).slice(0, 25);
      for (const [t, d] of slowest.sort((a, b) => a[0] - b[0]))
        console.log(`  query due at ${ms(t)}: ${d.toFixed(1)} ms`);
      for (const [t, d] of longest.filter(([t]) => t >= started))
        console.log(`  one query asked at ${ms(t)} ran ${d.toFixed(1)} ms`);
      longest.length = 0;
    }
    const p99 = (xs: number[]) => Math.round(percentile(xs, 99) * 100) / 100;
    const durations = during.map(([, ms]) => ms);
    // Across the switch: the queries that started from 1 s before it to 1 s after it.
    const window = switchedAt ?? [started, performance.now()];
    const across = during
      .filter(([t]) => t >= window[0] - 1000 && t <= window[1] + 1000)
      .map(([, ms]) => ms);
    return {
      catalog_rebuild_events: total,
      catalog_rebuild_events_per_s: Math.round(total / seconds),
      query_p99_before_ms: p99(before),
      query_p99_during_rebuild_ms: p99(durations),
      query_p99_increase_ms: Math.round((p99(durations) - p99(before)) * 100) / 100,
      query_p99_across_switch_ms: p99(across),
      query_p99_switch_increase_ms: Math.round((p99(across) - p99(before)) * 100) / 100,
      queries_across_switch: across.length,
      queries_during_rebuild: during.length,
      query_rate_per_s: queryRate,
    };
  };
  try {
    await driver.start();
    const runs: Record<string, number>[] = [];
    // With `ceiling`: the bare-driver ceiling before the first round and after each, so that each
    // rebuild has a ceiling measured on either side of it (the machine's speed drifts within a
    // run); its "paired" ratio is against their mean.
    const ceilings = ceiling ? [await ceiling(0)] : [];
    for (let r = 0; r < rounds; r++) {
      const m = await round();
      runs.push(m);
      let paired = '';
      if (ceiling) {
        ceilings.push(await ceiling(r + 1));
        const around = (ceilings[r]! + ceilings[r + 1]!) / 2;
        m['catalog_raw_replay_paired_events_per_s'] = Math.round(around);
        m['catalog_rebuild_fraction_of_raw_paired'] = ratio(
          m['catalog_rebuild_events_per_s'],
          around,
        );
        paired = ` (${m['catalog_rebuild_fraction_of_raw_paired']} of the ceiling around it, ${Math.round(around)} events/s)`;
      }
      if (rounds > 1 || ceiling) {
        console.log(
          `bench: rebuild round ${r + 1}/${rounds}: ${m['catalog_rebuild_events_per_s']} events/s${paired}, query p99 ${m['query_p99_before_ms']} ms before, ${m['query_p99_during_rebuild_ms']} during, ${m['query_p99_across_switch_ms']} across the switch`,
        );
      }
    }
    // Each figure the median of the rounds (the machine is noisy; one rebuild is a few seconds).
    return {
      ...Object.fromEntries(Object.keys(runs[0]!).map((k) => [k, median(runs.map((m) => m[k]!))])),
      rebuild_rounds: rounds,
      ...(ceilings.length > 0
        ? {
            catalog_raw_replay_events_per_s: Math.round(ceilings[0]!),
            catalog_raw_replay_after_events_per_s: Math.round(ceilings.at(-1)!),
          }
        : {}),
    };
  } finally {
    await driver.stop();
    await stack.close();
  }
}

/** The catalog projection on this thread, over the stack's log and read store. */
function inProcess(stack: RebuildStack, batchSize: number): RebuildDriver {
  const p = projector({
    log: stack.log,
    store: stack.store,
    projections: [catalogProjection],
    batchSize,
  });
  return {
    async start() {
      await p.start();
      if (!(await p.catchUp(3_600_000)).reached)
        throw new Error('the live catalog did not catch up');
    },
    async rebuild(onPhase) {
      const unsubscribe = watchPhases(p, (phase) => onPhase(phase, performance.now()));
      try {
        await p.rebuild('catalog');
      } finally {
        unsubscribe();
      }
    },
    stop: () => p.stop(),
  };
}
