import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendedChannel, PostgresEventStore } from '../../src/stores/postgres/index.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';

// Two stores on one database stand for two processes: appends in one wake the other's listeners.
const reachable = await postgresReachable();

async function waitUntil(what: string, cond: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.skipIf(!reachable)('postgres log wake-ups across processes', () => {
  let db: TestDatabase;
  let listening: PostgresEventStore;
  let writing: PostgresEventStore;
  let admin: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('tworooms_wakeup');
    listening = await PostgresEventStore.open({ connectionString: db.url, poolSize: 2 });
    writing = await PostgresEventStore.open({ connectionString: db.url, poolSize: 2 });
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await Promise.all([listening?.close(), writing?.close()]);
    await db?.drop();
  });

  /** Backend pids of this database's LISTEN connections. */
  const listeners = async (): Promise<number[]> =>
    (
      await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = $1`,
        [`LISTEN ${appendedChannel}`],
      )
    ).rows.map((r) => r.pid);

  it('an append in another process wakes the listener, also after its connection was killed', async () => {
    const heads: bigint[] = [];
    const off = listening.onAppended((h) => heads.push(h));
    try {
      await waitUntil('the LISTEN connection', async () => (await listeners()).length === 1);
      const first = await writing.append('w', [{ type: 'E', data: { n: 1 } }]);
      await waitUntil('the first wake-up', () => heads.includes(first.lastPosition));

      const [pid] = await listeners();
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await waitUntil('a new LISTEN connection', async () => {
        const now = await listeners();
        return now.length === 1 && now[0] !== pid;
      });
      const second = await writing.append('w', [{ type: 'E', data: { n: 2 } }]);
      await waitUntil('the wake-up after the reconnect', () => heads.includes(second.lastPosition));
      expect(heads.every((h, i) => i === 0 || h > heads[i - 1]!)).toBe(true);
    } finally {
      off();
    }
  });
});
