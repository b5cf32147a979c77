import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DEFAULT_READ_THREADS } from '../src/config.js';
import { projector } from '../src/core/index.js';
import { createTestDatabase, postgresReachable } from '../src/stores/postgres/test-db.js';
import { openSqlite, sqliteEventStore, sqliteReadStore } from '../src/stores/sqlite/index.js';
import { catalogProjection, generateCatalogEvents } from './fixtures/catalog.js';
import { type BenchOptions, type Metrics, rate, ratio, scratch, sideBySide } from './lib.js';
import {
  catalogRebuild,
  DEFAULT_QUERY_RATE,
  seedShopLog,
  sqliteRebuildStack,
} from './shop-rebuild.js';
import { postgresRebuildStack, rawReplayPg, seedShopLogPg } from './shop-rebuild-pg.js';

/** Events per projector batch in the shop rebuilds. */
const BATCH = 2000;
/** The PostgreSQL half's catalog queries a second during its rebuild (`--pg-query-rate`). */
const DEFAULT_PG_QUERY_RATE = 100;

/** Our projector rebuilding the catalog projection from position 0 into a fresh read DB. */
async function rebuild(
  writePath: string,
  dir: string,
  round: number,
  total: number,
): Promise<number> {
  const log = sqliteEventStore({ path: writePath });
  const read = sqliteReadStore({ path: join(dir, `read-${round}.db`) });
  const p = projector({ log, store: read, projections: [catalogProjection], batchSize: 5000 });
  try {
    return await rate(total, async () => {
      await p.start();
      const outcome = await p.catchUp(600_000);
      if (!outcome.reached) throw new Error('rebuild did not catch up');
    });
  } finally {
    await p.stop();
    await log.close();
    await read.close();
  }
}

/**
 * The ceiling: bare better-sqlite3 with the same settings reads the same events in batches,
 * parses them, and upserts one row per event, one transaction per batch.
 */
export async function rawReplay(
  writePath: string,
  dir: string,
  round: number,
  total: number,
): Promise<number> {
  const src = new Database(writePath, { readonly: true });
  const dst = openSqlite(join(dir, `raw-${round}.db`));
  dst.exec(
    'CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, position INTEGER, type TEXT, v INTEGER)',
  );
  const read = src
    .prepare(
      'SELECT position, type, data FROM events WHERE position > ? ORDER BY position LIMIT 5000',
    )
    .raw();
  const upsert = dst.prepare(
    'INSERT INTO t (id, position, type, v) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET position = excluded.position, type = excluded.type, v = excluded.v',
  );
  const batch = dst.transaction((rows: [number, string, string][]) => {
    for (const [position, type, data] of rows) {
      const d = JSON.parse(data) as {
        productId: string;
        priceCents?: number;
        rating?: number;
        quantity?: number;
      };
      upsert.run(d.productId, position, type, d.priceCents ?? d.rating ?? d.quantity ?? 0);
    }
  });
  try {
    return await rate(total, () => {
      let after = 0;
      for (;;) {
        const rows = read.all(after) as [number, string, string][];
        if (rows.length === 0) break;
        batch(rows);
        after = rows[rows.length - 1]![0];
      }
    });
  } finally {
    src.close();
    dst.close();
  }
}

/** `--name value` from the command line. */
const flag = (options: BenchOptions, name: string) => {
  const i = options.args.indexOf(`--${name}`);
  return i >= 0 ? options.args[i + 1] : undefined;
};

/** `--name N`, a whole number from `min` to `max` (`fallback` when not given). */
function wholeFlag(
  options: BenchOptions,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const asked = flag(options, name);
  const n = asked === undefined ? fallback : Number(asked);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(
      `--${name} must be a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')} (got ${asked})`,
    );
  return n;
}

/** Which stacks to run: `--stack sqlite` or `--stack pg` runs one half (default both). */
function stacks(options: BenchOptions): { sqlite: boolean; pg: boolean } {
  const stack = flag(options, 'stack') ?? 'both';
  if (!['sqlite', 'pg', 'both'].includes(stack))
    throw new Error(`--stack must be sqlite, pg or both (got ${stack})`);
  return { sqlite: stack !== 'pg', pg: stack !== 'sqlite' };
}

/**
 * `--read-threads N`: the SQLite queries during the rebuild run on N reader threads (0: on the
 * projector's thread); by default as `serve` runs them (`TWOROOMS_READ_THREADS` unset).
 */
function readThreads(options: BenchOptions): number {
  return wholeFlag(options, 'read-threads', DEFAULT_READ_THREADS, 0, 64);
}

/**
 * `--projector-thread on|off`: the SQLite rebuild on a thread of its own beside the queries (as
 * `serve` projects by default, `TWOROOMS_PROJECT_THREAD`), or on the queries' thread.
 */
function projectorThread(options: BenchOptions): boolean {
  const asked = flag(options, 'projector-thread') ?? 'on';
  if (asked !== 'on' && asked !== 'off')
    throw new Error(`--projector-thread must be on or off (got ${asked})`);
  return asked === 'on';
}

/** `--rounds N`: rebuilds of the SQLite half, each figure their median (default 3, 1 with --quick). */
function rebuildRounds(options: BenchOptions): number {
  return wholeFlag(options, 'rounds', options.quick ? 1 : 3, 1, 20);
}

/**
 * `--pg-rounds N`: rebuilds of the PostgreSQL half (default 3, 1 with --quick), each figure their
 * median: at 100 queries/s about 120 queries fall in the two seconds around one switch, so one
 * round's p99 there is its second-slowest query.
 */
function pgRebuildRounds(options: BenchOptions): number {
  return wholeFlag(options, 'pg-rounds', options.quick ? 1 : 3, 1, 20);
}

/**
 * `--query-rate R`: the SQLite half's catalog queries a second while the rebuild runs, in an open
 * model (default 250, about the flash sale's level-2 catalog rate); 0 asks them one after another
 * as fast as they answer (the closed loop of earlier runs, which keeps a core busy). The
 * PostgreSQL half has its own (`--pg-query-rate`).
 */
function queryRate(options: BenchOptions): number {
  return wholeFlag(options, 'query-rate', DEFAULT_QUERY_RATE, 0, 100_000);
}

/**
 * `--pg-query-rate R`: the PostgreSQL half's catalog queries a second during its rebuild, in an
 * open model (default 100); 0 asks them one after another (the closed loop of earlier runs,
 * whose load grew as the queries got cheaper).
 */
function pgQueryRate(options: BenchOptions): number {
  return wholeFlag(options, 'pg-query-rate', DEFAULT_PG_QUERY_RATE, 0, 100_000);
}

/**
 * The shop's catalog projection rebuilt blue/green from a 1,000,000-event log (50,000 with
 * --quick, N with --events N) beside the bare-driver ceiling on the same log, and query latency
 * across the switch: on the embedded stack (SQLite log and read DB), then on PostgreSQL (log and
 * read DB).
 */
async function shopCatalog(options: BenchOptions, dir: string): Promise<Metrics> {
  const asked = flag(options, 'events');
  const events = asked ? Number(asked) : options.quick ? 50_000 : 1_000_000;
  if (!Number.isInteger(events) || events < 2000)
    throw new Error(`--events must be a whole number of at least 2,000 (got ${asked})`);
  const metrics: Metrics = {};
  if (stacks(options).sqlite) {
    const writePath = join(dir, 'shop-write.db');
    console.log(`bench: writing about ${events.toLocaleString('en-US')} shop events…`);
    const total = await seedShopLog(writePath, events);
    // The ceiling is measured before the first rebuild and after each (on a shared machine it
    // swings within minutes): each rebuild's ratio is against the ceilings on either side of it
    // ("paired", the median of the rounds), and the median rebuild's against the first ceiling,
    // the last, and their mean.
    const threads = readThreads(options);
    Object.assign(
      metrics,
      await catalogRebuild(
        sqliteRebuildStack(writePath, dir, threads, projectorThread(options)),
        total,
        BATCH,
        queryRate(options),
        rebuildRounds(options),
        (run) => rawReplay(writePath, dir, 1000 + run, total),
      ),
    );
    const ceiling = metrics['catalog_raw_replay_events_per_s']!;
    const after = metrics['catalog_raw_replay_after_events_per_s']!;
    metrics['catalog_rebuild_fraction_of_raw'] = ratio(
      metrics['catalog_rebuild_events_per_s'],
      ceiling,
    );
    metrics['catalog_rebuild_fraction_of_raw_after'] = ratio(
      metrics['catalog_rebuild_events_per_s'],
      after,
    );
    metrics['catalog_raw_replay_mean_events_per_s'] = Math.round((ceiling + after) / 2);
    metrics['catalog_rebuild_fraction_of_raw_mean'] = ratio(
      metrics['catalog_rebuild_events_per_s'],
      metrics['catalog_raw_replay_mean_events_per_s'],
    );
  }
  if (!stacks(options).pg || !(await postgresReachable())) return metrics;
  const [write, read] = await Promise.all([
    createTestDatabase('tworooms_bench_rebuild_write'),
    createTestDatabase('tworooms_bench_rebuild_read'),
  ]);
  try {
    console.log(
      `bench: writing about ${events.toLocaleString('en-US')} shop events to PostgreSQL…`,
    );
    const pgTotal = await seedShopLogPg(write.url, events);
    // Each rebuild (about three minutes) with its ceiling measured before and after it.
    const pgRun = await catalogRebuild(
      await postgresRebuildStack(write.url, read.url),
      pgTotal,
      BATCH,
      pgQueryRate(options),
      pgRebuildRounds(options),
      () => rawReplayPg(write.url, read.url, pgTotal),
    );
    for (const [k, v] of Object.entries(pgRun)) metrics[`pg_${k}`] = v;
    metrics['pg_catalog_rebuild_fraction_of_raw'] = ratio(
      metrics['pg_catalog_rebuild_events_per_s'],
      metrics['pg_catalog_raw_replay_events_per_s'],
    );
  } finally {
    await Promise.all([write.drop(), read.drop()]);
  }
  return metrics;
}

/**
 * With one stack asked for, the other stack's figures from the results file this run replaces
 * (`bench/results/rebuild.json`, or its `--quick` twin): the file keeps both halves, each from
 * the last run of its own. PostgreSQL's figures are the `pg_` ones.
 */
function otherHalf(options: BenchOptions): { before: Metrics; after: Metrics } {
  const { sqlite, pg } = stacks(options);
  const none = { before: {}, after: {} };
  if (sqlite && pg) return none;
  const file = join(options.quick ? 'bench/results/quick' : 'bench/results', 'rebuild.json');
  if (!existsSync(file)) return none;
  const last = (JSON.parse(readFileSync(file, 'utf8')) as { metrics?: Metrics }).metrics ?? {};
  const kept = Object.entries(last).filter(([k]) => k.startsWith('pg_') === sqlite);
  if (kept.length > 0)
    console.log(
      `bench: keeping ${kept.length} ${sqlite ? 'PostgreSQL' : 'SQLite'} figures of ${file}`,
    );
  // SQLite's figures come first in the file, PostgreSQL's after them.
  return sqlite
    ? { before: {}, after: Object.fromEntries(kept) }
    : { before: Object.fromEntries(kept), after: {} };
}

export async function rebuildBench(options: BenchOptions): Promise<Metrics> {
  const kept = otherHalf(options);
  const metrics = await bothHalves(options);
  return { ...kept.before, ...metrics, ...kept.after };
}

async function bothHalves(options: BenchOptions): Promise<Metrics> {
  const total = options.quick ? 50_000 : 500_000;
  const s = scratch('rebuild');
  try {
    // The synthetic projection runs with the SQLite half.
    if (!stacks(options).sqlite) return await shopCatalog(options, s.dir);
    const writePath = join(s.dir, 'write.db');
    const store = sqliteEventStore({ path: writePath });
    console.log(`bench: writing ${total.toLocaleString('en-US')} catalog events…`);
    await generateCatalogEvents(store, total);
    await store.close();
    let round = 0;
    const metrics = await sideBySide(options.quick ? 1 : 3, {
      raw_replay_events_per_s: () => rawReplay(writePath, s.dir, round, total),
      rebuild_events_per_s: () => rebuild(writePath, s.dir, round++, total),
    });
    metrics['rebuild_events'] = total;
    metrics['rebuild_fraction_of_raw'] = ratio(
      metrics['rebuild_events_per_s'],
      metrics['raw_replay_events_per_s'],
    );
    Object.assign(metrics, await shopCatalog(options, s.dir));
    return metrics;
  } finally {
    s.cleanup();
  }
}
