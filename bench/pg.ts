// The PostgreSQL variants of the append and command benchmarks share this: a throw-away
// database per measurement, the server's durability settings and the raw `pg` ceiling.
import pg from 'pg';
import { PostgresEventStore } from '../src/stores/postgres/index.js';
import { createTestDatabase } from '../src/stores/postgres/test-db.js';
import { rate } from './lib.js';
import { event } from './workloads.js';

/** Runs `work` on a fresh database (dropped afterwards). */
export async function withDatabase<T>(work: (url: string) => Promise<T>): Promise<T> {
  const db = await createTestDatabase('tworooms_bench');
  try {
    return await work(db.url);
  } finally {
    await db.drop();
  }
}

/** Runs `work` on a fresh store in a fresh database. */
export function withPgStore<T>(work: (store: PostgresEventStore) => Promise<T>): Promise<T> {
  return withDatabase(async (url) => {
    const store = await PostgresEventStore.open({ connectionString: url });
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  });
}

/**
 * `fsync` and `synchronous_commit` as the server runs them (1 = on) and its version. Warns when
 * either setting is off.
 */
export async function durability(): Promise<Record<string, number>> {
  return withDatabase(async (url) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const show = async (name: string) =>
        (await client.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name]!;
      const fsync = await show('fsync');
      const syncCommit = await show('synchronous_commit');
      const version = await show('server_version');
      console.log(`bench: PostgreSQL ${version}, fsync=${fsync}, synchronous_commit=${syncCommit}`);
      if (fsync !== 'on' || syncCommit !== 'on')
        console.warn('bench: WARNING — durability is off: these figures are not comparable');
      return {
        pg_server_version_num: Number(await show('server_version_num')),
        pg_fsync_on: fsync === 'on' ? 1 : 0,
        pg_synchronous_commit_on: syncCommit === 'on' ? 1 : 0,
      };
    } finally {
      await client.end();
    }
  });
}

const RAW_TABLE = `CREATE TABLE t (id bigserial PRIMARY KEY, stream text NOT NULL, version bigint NOT NULL,
  data text NOT NULL, UNIQUE (stream, version))`;

/**
 * The ceiling: the bare `pg` driver, one-row autocommit INSERTs (a prepared statement) into a
 * table with the log's (stream, version) index, from `inFlight` connections at once.
 */
export function rawInserts(n: number, inFlight: number): Promise<number> {
  return withDatabase(async (url) => {
    const clients = Array.from(
      { length: inFlight },
      () => new pg.Client({ connectionString: url }),
    );
    await Promise.all(clients.map((c) => c.connect()));
    try {
      await clients[0]!.query(RAW_TABLE);
      let next = 0;
      const worker = async (c: pg.Client) => {
        while (next < n) {
          const i = next++;
          await c.query({
            name: 'raw_insert',
            text: 'INSERT INTO t (stream, version, data) VALUES ($1, $2, $3)',
            values: [`s-${i % 1000}`, Math.floor(i / 1000) + 1, JSON.stringify(event(i).data)],
          });
        }
      };
      return await rate(n, () => Promise.all(clients.map(worker)).then(() => {}));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
}
