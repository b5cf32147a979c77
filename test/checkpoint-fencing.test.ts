// Checkpoint fencing on every read store: saveCheckpoint(c, from) is a compare-and-set, so two
// projectors racing on the same projection (a worker that lost its lease and the one that took
// over) never apply a batch twice: the loser's transaction rolls back and it reloads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CheckpointConflict,
  type Event,
  mapReadStore,
  type Projection,
  projector,
  type ReadStore,
  type Sql,
} from '../src/core/index.js';
import {
  type MemoryTables,
  memoryEventStore,
  memoryReadStore,
} from '../src/stores/memory/index.js';
import { PostgresReadStore, pgSql } from '../src/stores/postgres/index.js';
import { createTestDatabase, postgresReachable } from '../src/stores/postgres/test-db.js';
import { SqliteReadStore, sqliteSql } from '../src/stores/sqlite/index.js';

type Added = Event<'Added', { n: number }>;

interface Subject<H> {
  /** Two handles on one read DB, as two processes would have. */
  readonly stores: [ReadStore<H>, ReadStore<H>];
  readonly projection: Projection<Added, H>;
  totals(): Promise<{ sum: number; count: number }>;
  cleanup(): Promise<void>;
}

const yieldNow = () => new Promise((r) => setImmediate(r));

/** Adds each event's n to one running total: applying a batch twice would show in it. */
const sqlSumming: Projection<Added, Sql> = {
  name: 'sums',
  version: 1,
  handles: ['Added'],
  setup: (sql) =>
    sql.exec('CREATE TABLE IF NOT EXISTS sums (id TEXT PRIMARY KEY, sum BIGINT, count BIGINT)'),
  async apply(events, sql) {
    for (const e of events) {
      await sql.run(
        `INSERT INTO sums (id, sum, count) VALUES ('all', ?, 1)
         ON CONFLICT (id) DO UPDATE SET sum = sums.sum + excluded.sum, count = sums.count + 1`,
        [e.data.n],
      );
      await yieldNow(); // let the other projector interleave
    }
  },
};

const sqlTotals = async (sql: Sql) =>
  (await sql.get<{ sum: number; count: number }>('SELECT sum, count FROM sums WHERE id = ?', [
    'all',
  ])) ?? { sum: 0, count: 0 };

const subjects: Record<string, () => Promise<Subject<unknown>>> = {
  memory: async () => {
    const store = memoryReadStore();
    const projection: Projection<Added, MemoryTables> = {
      name: 'sums',
      version: 1,
      handles: ['Added'],
      async apply(events, db) {
        for (const e of events) {
          const row = db.get<{ sum: number; count: number }>('sums', 'all');
          await yieldNow();
          db.set('sums', 'all', { sum: (row?.sum ?? 0) + e.data.n, count: (row?.count ?? 0) + 1 });
        }
      },
    };
    return {
      stores: [store, store],
      projection,
      totals: async () => store.tables.get('sums', 'all') ?? { sum: 0, count: 0 },
      cleanup: async () => undefined,
    } as Subject<unknown>;
  },
  sqlite: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tworooms-fencing-'));
    // One connection for both: better-sqlite3 is synchronous, so a second connection in this
    // process would block the event loop on the first one's open transaction. Between processes,
    // BEGIN IMMEDIATE makes the read-and-compare of saveCheckpoint atomic all the same.
    const store = mapReadStore(new SqliteReadStore({ path: join(dir, 'read.db') }), sqliteSql);
    const stores: [ReadStore<Sql>, ReadStore<Sql>] = [store, store];
    return {
      stores,
      projection: sqlSumming,
      totals: () => stores[0].transact((tx) => sqlTotals(tx.db)),
      async cleanup() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    } as Subject<unknown>;
  },
  ...((await postgresReachable())
    ? {
        postgres: async () => {
          const db = await createTestDatabase('tworooms_fencing');
          const open = async () =>
            mapReadStore(await PostgresReadStore.open({ connectionString: db.url }), pgSql);
          const stores: [ReadStore<Sql>, ReadStore<Sql>] = [await open(), await open()];
          return {
            stores,
            projection: sqlSumming,
            totals: () => stores[0].transact((tx) => sqlTotals(tx.db)),
            async cleanup() {
              for (const s of stores) await s.close();
              await db.drop();
            },
          } as Subject<unknown>;
        },
      }
    : {}),
};

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe.each(Object.keys(subjects))('checkpoint fencing (%s)', (name) => {
  it('refuses a save from a position the checkpoint has left, and rolls the batch back', async () => {
    const subject = await subjects[name]!();
    cleanup = subject.cleanup;
    const [store] = subject.stores;
    await store.setup([subject.projection as Projection<Event, unknown>]);
    const at = (position: bigint) => ({
      name: 'sums',
      version: 1,
      position,
      status: 'running' as const,
    });
    await store.transact((tx) => tx.saveCheckpoint(at(5n), 0n)); // no row yet counts as 0
    await store.transact((tx) => tx.saveCheckpoint(at(9n), 5n));
    const late = store.transact(async (tx) => {
      await subject.projection.apply([{ type: 'Added', data: { n: 1000 } }] as never, tx.db);
      await tx.saveCheckpoint(at(7n), 5n);
    });
    await expect(late).rejects.toBeInstanceOf(CheckpointConflict);
    await expect(late).rejects.toMatchObject({ expected: 5n, found: 9n });
    expect((await store.loadCheckpoints()).get('sums')?.position).toBe(9n);
    expect(await subject.totals()).toEqual({ sum: 0, count: 0 }); // the late batch rolled back
  });

  it('two projectors racing on one projection apply every event exactly once', async () => {
    const subject = await subjects[name]!();
    cleanup = subject.cleanup;
    const log = memoryEventStore();
    const projections = [subject.projection as Projection<Event, unknown>];
    const workers = subject.stores.map((store) =>
      projector({ log, store, projections, batchSize: 7 }),
    );
    for (const w of workers) await w.start(); // one at a time: both create the tables
    let expected = 0;
    for (let i = 1; i <= 120; i++) {
      await log.append(`s-${i % 5}`, [{ type: 'Added', data: { n: i } }], {});
      expected += i;
      if (i % 10 === 0) await yieldNow();
    }
    for (const w of workers) expect((await w.catchUp(30_000)).reached).toBe(true);
    for (const w of workers) await w.stop();
    expect(await subject.totals()).toEqual({ sum: expected, count: 120 });
    const stored = (await subject.stores[0].loadCheckpoints()).get('sums');
    expect(stored?.position).toBe(await log.headPosition());
  });
});
