import { type LagFigures, measureLag, projectionLag } from './lag-pg.js';
import { type BenchOptions, type Metrics, median, ratio, sideBySide } from './lib.js';
import { peer as peerModule, peerPgVariants } from './peer-pg.js';
import { durability, rawInserts, withDatabase, withPgStore } from './pg.js';
import { commands } from './workloads.js';

/** Commands per second of the steady load the projection lag is measured under. */
const LAG_LOAD = 1000;

/** `npm run bench -- command-pg`: the command benchmark and the projection lag on PostgreSQL. */
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
    commands_per_s: () => withPgStore((store) => commands(store, n, 1)),
    concurrent_commands_per_s: () => withPgStore((store) => commands(store, nConcurrent, 50)),
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
  // The lag, ours and (when installed) the peer's, in turn in each round.
  const p = options.peer ? await peerModule() : undefined;
  const lags: LagFigures[] = [];
  const peerLags: LagFigures[] = [];
  const seconds = q ? 4 : 10;
  for (let r = 0; r < rounds; r++) {
    lags.push(await projectionLag(LAG_LOAD, seconds));
    if (p)
      peerLags.push(
        await withDatabase(async (url) => measureLag(await p.peerLagRig(url), LAG_LOAD, seconds)),
      );
  }
  const mid = (ls: LagFigures[], f: (l: LagFigures) => number) =>
    Math.round(median(ls.map(f)) * 100) / 100;
  metrics['lag_load_commands_per_s'] = mid(lags, (l) => l.commandsPerS);
  metrics['projection_lag_p50_ms'] = mid(lags, (l) => l.p50);
  metrics['projection_lag_p99_ms'] = mid(lags, (l) => l.p99);
  metrics['projection_lag_max_ms'] = mid(lags, (l) => l.max);
  if (peerLags.length > 0) {
    metrics['peer_lag_load_commands_per_s'] = mid(peerLags, (l) => l.commandsPerS);
    metrics['peer_projection_lag_p50_ms'] = mid(peerLags, (l) => l.p50);
    metrics['peer_projection_lag_p99_ms'] = mid(peerLags, (l) => l.p99);
    metrics['peer_projection_lag_max_ms'] = mid(peerLags, (l) => l.max);
  }
  return { ...metrics, ...settings };
}
