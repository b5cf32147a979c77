// The peer of the PostgreSQL benchmarks: Emmett's PostgreSQL event store, installed apart from
// the shipped dependencies in bench/peer-pg (see bench/peer-pg/README.md).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LagRig } from './lag-pg.js';
import { withDatabase } from './pg.js';

const peerDir = fileURLToPath(new URL('./peer-pg/', import.meta.url));

interface PeerPg {
  peerAppends(url: string, n: number, inFlight: number): Promise<number>;
  peerBatch(url: string, batches: number): Promise<number>;
  peerCommands(url: string, n: number, inFlight: number): Promise<number>;
  /** The projection-lag rig (commands and Emmett's asynchronous projection) on a fresh database. */
  peerLagRig(url: string): Promise<LagRig>;
}

let loaded: Promise<PeerPg | undefined> | undefined;

function ensureInstalled(): boolean {
  if (existsSync(`${peerDir}node_modules/@event-driven-io/emmett-postgresql`)) return true;
  console.log('bench: installing the peer (Emmett on PostgreSQL) into bench/peer-pg — once');
  try {
    execFileSync(
      'npm',
      ['install', '--prefix', peerDir, '--legacy-peer-deps', '--no-audit', '--no-fund'],
      { stdio: 'inherit' },
    );
    return true;
  } catch (error) {
    console.log(
      `bench: the peer could not be installed (${String(error)}); its figures are left out`,
    );
    return false;
  }
}

/** The peer's measuring functions, or undefined when it cannot be installed. */
export function peer(): Promise<PeerPg | undefined> {
  loaded ??= (async () => {
    if (!ensureInstalled()) return undefined;
    // A computed specifier: the peer is optional, so the type-checker must not follow it.
    const specifier = './peer-pg/emmett.js';
    return (await import(specifier)) as PeerPg;
  })();
  return loaded;
}

/** Peer variants for `sideBySide` (each on a fresh database), or none without the peer. */
export async function peerPgVariants(
  enabled: boolean,
  variants: Record<string, (p: PeerPg, url: string) => Promise<number>>,
): Promise<Record<string, () => Promise<number>>> {
  const p = enabled ? await peer() : undefined;
  if (!p) return {};
  return Object.fromEntries(
    Object.entries(variants).map(([name, run]) => [name, () => withDatabase((url) => run(p, url))]),
  );
}
