import { join } from 'node:path';
import { type Command, commandBus, type Decider, eventSourcedHandler } from '../src/core/index.js';
import { type SqliteSynchronous, sqliteEventStore } from '../src/stores/sqlite/index.js';
import { type BenchOptions, type Metrics, rate, ratio, scratch, sideBySide } from './lib.js';
import { peerFigures } from './peer.js';

type Increment = Command<'Increment', { counter: string; by: number }>;
type Incremented = { type: 'Incremented'; data: { counter: string; by: number; total: number } };

const counter: Decider<number, Increment, Incremented> = {
  initialState: () => 0,
  evolve: (_total, e) => e.data.total,
  decide: (c, total) => ({
    type: 'Incremented',
    data: { counter: c.data.counter, by: c.data.by, total: total + c.data.by },
  }),
};

/** Load -> decide -> append through the command bus, on `streams` distinct streams. */
async function commands(
  n: number,
  inFlight: number,
  synchronous: SqliteSynchronous,
): Promise<number> {
  const s = scratch('cmd');
  const store = sqliteEventStore({ path: join(s.dir, 'w.db'), synchronous });
  const bus = commandBus({
    Increment: eventSourcedHandler(store, {
      decider: counter,
      streamId: (c: Increment) => `counter-${c.data.counter}`,
    }),
  });
  try {
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        // distinct streams: each counter gets a few increments, as aggregates do
        await bus.dispatch({
          type: 'Increment',
          data: { counter: `c-${i % Math.max(1, n / 4)}`, by: 1 },
        });
      }
    };
    return await rate(n, () =>
      Promise.all(Array.from({ length: inFlight }, worker)).then(() => {}),
    );
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
