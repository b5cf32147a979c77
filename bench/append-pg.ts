import { type BenchOptions, type Metrics, ratio, sideBySide } from './lib.js';
import { peerPgVariants } from './peer-pg.js';
import { durability, rawInserts, withPgStore } from './pg.js';
import { batchAppends, concurrentAppends, sequentialAppends } from './workloads.js';

/** `npm run bench -- append-pg`: the append benchmark on PostgreSQL, raw `pg` as the ceiling. */
export async function appendPgBench(options: BenchOptions): Promise<Metrics> {
  const q = options.quick;
  const n = q ? 1000 : 10000;
  const nConcurrent = q ? 3000 : 30000;
  const rounds = q ? 1 : 3;
  const settings = await durability();
  const peer = await peerPgVariants(options.peer, {
    peer_appends_per_s: (p, url) => p.peerAppends(url, n, 1),
    peer_concurrent_appends_per_s: (p, url) => p.peerAppends(url, nConcurrent, 50),
    peer_batch_events_per_s: (p, url) => p.peerBatch(url, q ? 20 : 200),
  });
  const metrics: Metrics = await sideBySide(rounds, {
    ...peer,
    raw_insert_per_s: () => rawInserts(n, 1),
    raw_insert_50_in_flight_per_s: () => rawInserts(nConcurrent, 50),
    appends_per_s: () => withPgStore((store) => sequentialAppends(store, n)),
    concurrent_appends_per_s: () => withPgStore((store) => concurrentAppends(store, nConcurrent)),
    batch_events_per_s: () => withPgStore((store) => batchAppends(store, q ? 20 : 200)),
  });
  const m = (k: string) => metrics[k];
  metrics['appends_fraction_of_raw'] = ratio(m('appends_per_s'), m('raw_insert_per_s'));
  metrics['concurrent_vs_raw_50_in_flight'] = ratio(
    m('concurrent_appends_per_s'),
    m('raw_insert_50_in_flight_per_s'),
  );
  if (m('peer_appends_per_s') !== undefined) {
    metrics['appends_vs_peer'] = ratio(m('appends_per_s'), m('peer_appends_per_s'));
    metrics['concurrent_vs_peer'] = ratio(
      m('concurrent_appends_per_s'),
      m('peer_concurrent_appends_per_s'),
    );
    metrics['batch_vs_peer'] = ratio(m('batch_events_per_s'), m('peer_batch_events_per_s'));
  }
  return { ...metrics, ...settings };
}
