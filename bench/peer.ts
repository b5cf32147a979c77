// The peer we measure ourselves against: Emmett's SQLite event store, installed apart from the
// shipped dependencies in bench/peer (see bench/peer/README.md).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { scratch } from './lib.js';

const peerDir = fileURLToPath(new URL('./peer/', import.meta.url));

export type PeerMetrics = Partial<
  Record<
    | 'peer_appends_per_s'
    | 'peer_concurrent_appends_per_s'
    | 'peer_batch_events_per_s'
    | 'peer_commands_per_s',
    number
  >
>;

let cached: Promise<PeerMetrics> | undefined;

function ensureInstalled(): boolean {
  if (existsSync(`${peerDir}node_modules/@event-driven-io/emmett-sqlite`)) return true;
  console.log(
    'bench: installing the peer (Emmett on SQLite) into bench/peer — once, takes a few minutes',
  );
  try {
    execFileSync(
      'npm',
      ['install', '--prefix', peerDir, '--legacy-peer-deps', '--no-audit', '--no-fund'],
      {
        stdio: 'inherit',
      },
    );
    return true;
  } catch (error) {
    console.log(
      `bench: the peer could not be installed (${String(error)}); its figures are left out`,
    );
    return false;
  }
}

/** The peer's figures, measured once per bench run (in this same run, on this machine). */
export function peerFigures(quick: boolean): Promise<PeerMetrics> {
  cached ??= (async () => {
    if (!ensureInstalled()) return {};
    // A computed specifier: the peer is optional, so the type-checker must not follow it.
    const specifier = './peer/emmett.js';
    const { measurePeer } = (await import(specifier)) as {
      measurePeer(o: { dir: string; quick: boolean }): Promise<Record<string, number | string>>;
    };
    const s = scratch('peer');
    try {
      const figures = await measurePeer({ dir: s.dir, quick });
      console.log(`bench: peer ran with synchronous=${String(figures['peer_sqlite_synchronous'])}`);
      return Object.fromEntries(
        Object.entries(figures)
          .filter((e): e is [string, number] => typeof e[1] === 'number')
          .map(([k, v]) => [k, v < 10 ? Math.round(v * 100) / 100 : Math.round(v)]),
      ) as PeerMetrics;
    } finally {
      s.cleanup();
    }
  })();
  return cached;
}
