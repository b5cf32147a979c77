import { type Command, commandBus, type Decider, eventSourcedHandler } from '../src/core/index.js';
import type { PostgresEventStore } from '../src/stores/postgres/index.js';
import { rawInserts } from './append-pg.js';
import { type BenchOptions, type Metrics, rate, ratio, sideBySide } from './lib.js';
import { peerPgVariants } from './peer-pg.js';
import { durability, withPgStore } from './pg.js';

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

/** Load -> decide -> append through the command bus, as in `bench/command.ts`, on PostgreSQL. */
function commands(n: number, inFlight: number): Promise<number> {
  return withPgStore(async (store: PostgresEventStore) => {
    const bus = commandBus({
      Increment: eventSourcedHandler(store, {
        decider: counter,
        streamId: (c: Increment) => `counter-${c.data.counter}`,
      }),
    });
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
    return rate(n, () => Promise.all(Array.from({ length: inFlight }, worker)).then(() => {}));
  });
}

/** `npm run bench -- command-pg`: the command benchmark on PostgreSQL. */
export async function commandPgBench(options: BenchOptions): Promise<Metrics> {
  const q = options.quick;
  const rounds = q ? 1 : 3;
  const n = q ? 1000 : 5000;
  const nConcurrent = q ? 3000 : 30000;
  const settings = await durability();
  const peer = await peerPgVariants(options.peer, {
    peer_commands_per_s: (p, url) => p.peerCommands(url, n, 1),
    peer_concurrent_commands_per_s: (p, url) => p.peerCommands(url, nConcurrent, 50),
  });
  const metrics = await sideBySide(rounds, {
    raw_insert_per_s: () => rawInserts(n, 1),
    raw_insert_50_in_flight_per_s: () => rawInserts(nConcurrent, 50),
    commands_per_s: () => commands(n, 1),
    concurrent_commands_per_s: () => commands(nConcurrent, 50),
    ...peer,
  });
  // Each command records one event: commands/s are events/s.
  metrics['concurrent_commands_vs_raw_50_in_flight'] = ratio(
    metrics['concurrent_commands_per_s'],
    metrics['raw_insert_50_in_flight_per_s'],
  );
  if (metrics['peer_commands_per_s'] !== undefined) {
    metrics['commands_vs_peer'] = ratio(metrics['commands_per_s'], metrics['peer_commands_per_s']);
    metrics['concurrent_commands_vs_peer'] = ratio(
      metrics['concurrent_commands_per_s'],
      metrics['peer_concurrent_commands_per_s'],
    );
  }
  return { ...metrics, ...settings };
}
