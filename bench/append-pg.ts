import pg from 'pg';
import type { Event } from '../src/core/index.js';
import { type BenchOptions, type Metrics, rate, ratio, sideBySide } from './lib.js';
import { peerPgVariants } from './peer-pg.js';
import { durability, withDatabase, withPgStore } from './pg.js';

const note = 'x'.repeat(100);
const event = (i: number): Event => ({
  type: 'ItemAdded',
  data: { sku: `sku-${i}`, quantity: 1, note },
});

const RAW_TABLE = `CREATE TABLE t (id bigserial PRIMARY KEY, stream text NOT NULL, version bigint NOT NULL,
  data text NOT NULL, UNIQUE (stream, version))`;

/**
 * The ceiling: the bare `pg` driver, one-row autocommit INSERTs (a prepared statement) into a
 * table with the log's (stream, version) index, from `inFlight` connections at once.
 */
export async function rawInserts(n: number, inFlight: number): Promise<number> {
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

/** Our store: single-event appends with an exact expected-version check, awaited one by one. */
function sequential(n: number): Promise<number> {
  return withPgStore(async (store) => {
    const versions = new Map<string, bigint>();
    return rate(n, async () => {
      for (let i = 0; i < n; i++) {
        const stream = `s-${i % 1000}`;
        const v = versions.get(stream) ?? 0n;
        const r = await store.append(stream, [event(i)], {
          expectedVersion: v === 0n ? 'no_stream' : v,
        });
        versions.set(stream, r.streamVersion);
      }
    });
  });
}

/** `inFlight` appends at once, each worker on its own stream; each answered after its commit. */
function concurrent(n: number, inFlight = 50): Promise<number> {
  return withPgStore(async (store) => {
    let next = 0;
    const worker = async (w: number) => {
      let v = 0n;
      while (next < n) {
        const i = next++;
        const r = await store.append(`w-${w}`, [event(i)], {
          expectedVersion: v === 0n ? 'no_stream' : v,
        });
        v = r.streamVersion;
      }
    };
    return rate(n, () =>
      Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w))).then(() => {}),
    );
  });
}

/** Appends of 100 events per call: events per second. */
function batched(batches: number): Promise<number> {
  return withPgStore(async (store) => {
    const events = Array.from({ length: 100 }, (_, i) => event(i));
    return rate(batches * 100, async () => {
      for (let b = 0; b < batches; b++)
        await store.append(`b-${b}`, events, { expectedVersion: 'no_stream' });
    });
  });
}

/** `npm run bench -- append-pg`: the append benchmark on PostgreSQL, raw `pg` as the ceiling. */
export async function appendPgBench(options: BenchOptions): Promise<Metrics> {
  const q = options.quick;
  const n = q ? 1000 : 10000;
  const rounds = q ? 1 : 3;
  const settings = await durability();
  const peer = await peerPgVariants(options.peer, {
    peer_appends_per_s: (p, url) => p.peerAppends(url, n, 1),
    peer_concurrent_appends_per_s: (p, url) => p.peerAppends(url, q ? 3000 : 30000, 50),
  });
  const metrics: Metrics = await sideBySide(rounds, {
    ...peer,
    raw_insert_per_s: () => rawInserts(n, 1),
    raw_insert_50_in_flight_per_s: () => rawInserts(q ? 3000 : 30000, 50),
    appends_per_s: () => sequential(n),
    concurrent_appends_per_s: () => concurrent(q ? 3000 : 30000),
    batch_events_per_s: () => batched(q ? 20 : 200),
  });
  metrics['appends_fraction_of_raw'] = ratio(metrics['appends_per_s'], metrics['raw_insert_per_s']);
  metrics['concurrent_vs_raw_50_in_flight'] = ratio(
    metrics['concurrent_appends_per_s'],
    metrics['raw_insert_50_in_flight_per_s'],
  );
  if (metrics['peer_appends_per_s'] !== undefined) {
    metrics['appends_vs_peer'] = ratio(metrics['appends_per_s'], metrics['peer_appends_per_s']);
    metrics['concurrent_vs_peer'] = ratio(
      metrics['concurrent_appends_per_s'],
      metrics['peer_concurrent_appends_per_s'],
    );
  }
  return { ...metrics, ...settings };
}
