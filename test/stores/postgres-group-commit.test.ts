import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isConcurrencyConflict } from '../../src/core/errors.js';
import { PostgresEventStore } from '../../src/stores/postgres/index.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';

// Group commit's fast path: concurrent transactions whose only work is one `record` are
// written by one statement; anything else falls back to one savepoint per transaction.
const reachable = await postgresReachable();

describe.skipIf(!reachable)('postgres group commit', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;

  beforeEach(async () => {
    db = await createTestDatabase('tworooms_group');
    store = await PostgresEventStore.open({ connectionString: db.url, poolSize: 3 });
  });
  afterEach(async () => {
    await store?.close();
    await db?.drop();
  });

  const all = async () => (await store.readAll({ after: 0n, limit: 10_000 })).events;

  it('record-only transactions: the winners commit, conflicts write nothing, each gets its position', async () => {
    await store.append('taken', [{ type: 'E', data: { n: -1 } }]);
    const settled = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        store.transact(async (tx) => {
          const stream = i % 4 === 0 ? 'taken' : `own-${i}`;
          const r = await tx.record(stream, [{ type: 'E', data: { n: i } }], {
            expectedVersion: 'no_stream',
          });
          return { i, at: r.lastPosition };
        }),
      ),
    );
    const events = await all();
    for (const [i, s] of settled.entries()) {
      if (i % 4 === 0) {
        expect(s.status).toBe('rejected');
        expect(isConcurrencyConflict((s as PromiseRejectedResult).reason)).toBe(true);
        continue;
      }
      expect(s.status).toBe('fulfilled');
      const outcome = (
        s as PromiseFulfilledResult<{ replayed: false; value: { at: bigint }; position: bigint }>
      ).value;
      expect(outcome.position).toBe(outcome.value.at);
      const mine = events.find((e) => e.position === outcome.position)!;
      expect(mine).toMatchObject({ streamId: `own-${i}`, streamVersion: 1n, data: { n: i } });
    }
    expect(events).toHaveLength(31);
    expect((await store.readStream('taken')).streamVersion).toBe(1n);
  });

  it('a transaction that throws after its record is rolled back alone; the others commit', async () => {
    let runs = 0;
    const settled = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        store.transact(async (tx) => {
          runs++;
          await tx.record(`s-${i}`, [{ type: 'E', data: { i } }], { expectedVersion: 'no_stream' });
          if (i === 5) throw new Error('after the record');
          return i;
        }),
      ),
    );
    expect(settled.map((s) => s.status)).toEqual(
      Array.from({ length: 20 }, (_, i) => (i === 5 ? 'rejected' : 'fulfilled')),
    );
    expect(((settled[5] as PromiseRejectedResult).reason as Error).message).toBe(
      'after the record',
    );
    const events = await all();
    expect(events.map((e) => e.data['i']).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 5),
    );
    expect((await store.readStream('s-5')).streamExists).toBe(false);
    // Every versioned stream is exactly as one run of its transaction left it.
    for (let i = 0; i < 20; i++)
      if (i !== 5) expect((await store.readStream(`s-${i}`)).streamVersion).toBe(1n);
    expect(runs).toBeGreaterThanOrEqual(20);
  });

  it('transactions that use the connection or record nothing still commit in a group', async () => {
    await store.transact(async (tx) => {
      await tx.db.query('CREATE TABLE counters (name text PRIMARY KEY, n int NOT NULL)');
      await tx.db.query("INSERT INTO counters VALUES ('c', 0)");
    });
    const head = (await store.append('h', [{ type: 'E', data: {} }])).lastPosition;
    const settled = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        store.transact(async (tx) => {
          if (i % 3 === 0) return 'nothing';
          if (i % 3 === 1) {
            await tx.db.query("UPDATE counters SET n = n + 1 WHERE name = 'c'");
            return 'row';
          }
          await tx.record(`r-${i}`, [{ type: 'E', data: { i } }]);
          return 'event';
        }),
      ),
    );
    const rows = await store.pool.query("SELECT n FROM counters WHERE name = 'c'");
    expect(rows.rows[0].n).toBe(10);
    expect((await all()).filter((e) => e.streamId.startsWith('r-'))).toHaveLength(10);
    for (const [i, o] of settled.entries()) {
      if (o.replayed) throw new Error('unreachable');
      if (i % 3 !== 2) expect(o.position).toBeGreaterThanOrEqual(head);
    }
  });
});
