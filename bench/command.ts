import { join } from 'node:path';
import { type SqliteSynchronous, sqliteEventStore } from '../src/stores/sqlite/index.js';
import { type BenchOptions, type Metrics, ratio, scratch, sideBySide } from './lib.js';
import { peerFigures } from './peer.js';
import { commands as commandWorkload } from './workloads.js';

/** Load -> decide -> append through the command bus, on a fresh store in a scratch directory. */
async function commands(
  n: number,
  inFlight: number,
  synchronous: SqliteSynchronous,
): Promise<number> {
  const s = scratch('cmd');
  const store = sqliteEventStore({ path: join(s.dir, 'w.db'), synchronous });
  try {
    return await commandWorkload(store, n, inFlight);
  } finally {
    await store.close();
    s.cleanup();
  }
}

export async function commandBench(options: BenchOptions): Promise<Metrics> {
  const q = options.quick;
  const n = q ? 2000 : 20000;
  const rounds = q ? 1 : 3;
  const metrics: Metrics = await sideBySide(rounds, {
    // synchronous=FULL is the shop's default; `_normal` beside it.
    commands_per_s: () => commands(q ? 500 : 3000, 1, 'full'),
    concurrent_commands_per_s: () => commands(q ? 2000 : 10000, 50, 'full'),
    commands_per_s_normal: () => commands(n, 1, 'normal'),
    concurrent_commands_per_s_normal: () => commands(n, 50, 'normal'),
  });
  if (options.peer) {
    const peer = await peerFigures(q);
    if (peer.peer_commands_per_s !== undefined) {
      metrics['peer_commands_per_s'] = peer.peer_commands_per_s;
      // The peer runs with synchronous=FULL, as our default does.
      metrics['commands_vs_peer'] = ratio(metrics['commands_per_s'], peer.peer_commands_per_s);
    }
  }
  return metrics;
}
