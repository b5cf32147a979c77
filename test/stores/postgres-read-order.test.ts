/**
 * Reading the PostgreSQL log from far behind (a rebuild, a catch-up) reads each event about once:
 * a page after a position comes from the primary key in position order. Without statistics on
 * `events` (autovacuum off, a log just loaded) PostgreSQL planned the page as a scan of every
 * event after the position and a sort, so that reading a log of N events in pages read N²/2 rows
 * (a 1,000,000-event rebuild spent ~0.6 s on each page of 2,000).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../../src/stores/postgres/index.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';

const reachable = await postgresReachable();

const EVENTS = 6000;
const PAGE = 100;
const TYPES = ['Added', 'Changed'];

describe.skipIf(!reachable)('the PostgreSQL log read from far behind', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  beforeAll(async () => {
    database = await createTestDatabase('read_order');
    // Two connections: the writer's, and the one every read goes through.
    store = await PostgresEventStore.open({ connectionString: database.url, poolSize: 2 });
    for (let s = 0; s < EVENTS / 100; s++) {
      const events = Array.from({ length: 100 }, (_, i) => ({
        type: TYPES[i % 2]!,
        data: { n: s * 100 + i },
      }));
      await store.append(`s-${s}`, events, { expectedVersion: 'no_stream' });
    }
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  /** Rows of `events` read so far by scans of any kind (this connection's counts flushed first). */
  async function rowsRead(): Promise<number> {
    await store.pool.query('SELECT pg_stat_force_next_flush()');
    const { rows } = await store.pool.query<{ n: string }>(
      `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n
         FROM pg_stat_user_tables WHERE relname = 'events'`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  it.each([
    ['with a projection’s types', TYPES],
    ['with no types', undefined],
  ])('reads each event about once, in pages, %s', async (_, types) => {
    expect(await store.headPosition()).toBe(BigInt(EVENTS));
    const before = await rowsRead();
    let after = 0n;
    let seen = 0;
    for (;;) {
      const page = await store.readAllData({ after, limit: PAGE, ...(types ? { types } : {}) });
      seen += page.events.length;
      if (page.coveredTo === after) break;
      after = page.coveredTo;
    }
    expect(seen).toBe(EVENTS);
    // Each event once, and the head's lookups (one index entry per page); a scan of what
    // follows each page would read ~EVENTS² / (2 × PAGE) = 180,000.
    const read = (await rowsRead()) - before;
    expect(read).toBeGreaterThanOrEqual(EVENTS);
    expect(read).toBeLessThan(EVENTS * 1.5);
  });
});
