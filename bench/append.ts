import { join } from 'node:path';
import {
  openSqlite,
  type SqliteEventStore,
  type SqliteSynchronous,
  sqliteEventStore,
} from '../src/stores/sqlite/index.js';
import { type BenchOptions, type Metrics, rate, ratio, scratch, sideBySide } from './lib.js';
import { peerFigures } from './peer.js';
import { batchAppends, concurrentAppends, event, sequentialAppends } from './workloads.js';

/**
 * Bare better-sqlite3 on a file opened with the store's own settings (`openSqlite`: WAL, the
 * synchronous level, the autocheckpoint, cache): one-row INSERT, one commit each. The ceiling.
 */
async function rawCommits(
  n: number,
  synchronous: SqliteSynchronous,
  streamIndex = false,
): Promise<number> {
  const s = scratch('raw');
  try {
    const db = openSqlite(join(s.dir, 'raw.db'), { synchronous });
    db.exec(
      `CREATE TABLE t (id INTEGER PRIMARY KEY, stream TEXT, version INTEGER, data TEXT${streamIndex ? ', UNIQUE (stream, version)' : ''})`,
    );
    const insert = db.prepare('INSERT INTO t (stream, version, data) VALUES (?, ?, ?)');
    const r = await rate(n, () => {
      for (let i = 0; i < n; i++)
        insert.run(`s-${i % 1000}`, Math.floor(i / 1000) + 1, JSON.stringify(event(i).data));
    });
    db.close();
    return r;
  } finally {
    s.cleanup();
  }
}

/** Runs `work` on a fresh store in a scratch directory, then closes and removes both. */
async function withStore(
  synchronous: SqliteSynchronous,
  work: (store: SqliteEventStore) => Promise<number>,
): Promise<number> {
  const s = scratch('log');
  const store = sqliteEventStore({ path: join(s.dir, 'w.db'), synchronous });
  try {
    return await work(store);
  } finally {
    await store.close();
    s.cleanup();
  }
}

const sequential = (n: number, synchronous: SqliteSynchronous) =>
  withStore(synchronous, (store) => sequentialAppends(store, n));
const concurrent = (n: number, synchronous: SqliteSynchronous) =>
  withStore(synchronous, (store) => concurrentAppends(store, n));
const batched = (batches: number, synchronous: SqliteSynchronous) =>
  withStore(synchronous, (store) => batchAppends(store, batches));

export async function appendBench(options: BenchOptions): Promise<Metrics> {
  const q = options.quick;
  const rounds = q ? 1 : 3;
  // The shop's default durability is synchronous=FULL (docs/architecture.md): the plain names are
  // measured with it; `_normal` names with synchronous=NORMAL beside them.
  const nFull = q ? 500 : 3000;
  const full = await sideBySide(rounds, {
    raw_commits_per_s: () => rawCommits(nFull, 'full'),
    raw_commits_stream_index_per_s: () => rawCommits(nFull, 'full', true),
    appends_per_s: () => sequential(nFull, 'full'),
    concurrent_appends_per_s: () => concurrent(q ? 2000 : 10000, 'full'),
    batch_events_per_s: () => batched(q ? 10 : 100, 'full'),
  });
  const n = q ? 3000 : 20000;
  const normal = await sideBySide(rounds, {
    raw_commits_per_s_normal: () => rawCommits(n, 'normal'),
    // The same bare insert into a table that also has the log's (stream, version) index: what
    // the index alone costs (a second page written per commit).
    raw_commits_stream_index_per_s_normal: () => rawCommits(n, 'normal', true),
    appends_per_s_normal: () => sequential(n, 'normal'),
    concurrent_appends_per_s_normal: () => concurrent(n, 'normal'),
    batch_events_per_s_normal: () => batched(q ? 30 : 300, 'normal'),
  });
  const peer = options.peer ? await peerFigures(options.quick) : {};
  const metrics: Metrics = { ...full, ...normal };
  for (const k of [
    'peer_appends_per_s',
    'peer_concurrent_appends_per_s',
    'peer_batch_events_per_s',
  ] as const) {
    if (peer[k] !== undefined) metrics[k] = peer[k];
  }
  const m = (k: string) => metrics[k];
  metrics['appends_fraction_of_raw'] = ratio(m('appends_per_s'), m('raw_commits_per_s'));
  metrics['appends_fraction_of_raw_stream_index'] = ratio(
    m('appends_per_s'),
    m('raw_commits_stream_index_per_s'),
  );
  metrics['appends_fraction_of_raw_normal'] = ratio(
    m('appends_per_s_normal'),
    m('raw_commits_per_s_normal'),
  );
  metrics['appends_fraction_of_raw_stream_index_normal'] = ratio(
    m('appends_per_s_normal'),
    m('raw_commits_stream_index_per_s_normal'),
  );
  if (metrics['peer_appends_per_s']) {
    // The peer opens SQLite with synchronous=FULL, as our default does.
    metrics['appends_vs_peer'] = ratio(m('appends_per_s'), m('peer_appends_per_s'));
    metrics['concurrent_vs_peer'] = ratio(
      m('concurrent_appends_per_s'),
      m('peer_concurrent_appends_per_s'),
    );
    metrics['batch_vs_peer'] = ratio(m('batch_events_per_s'), m('peer_batch_events_per_s'));
  }
  return metrics;
}
