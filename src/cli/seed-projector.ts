// The worker thread `tworooms seed` runs its projector in, so that the read models are built
// while the main thread is still writing (better-sqlite3 is synchronous: one thread cannot do
// both at once). It opens its own connections to both SQLite files; WAL lets it read the log
// while the main thread writes it.
import { parentPort, workerData } from 'node:worker_threads';
import { mapReadStore, type ProjectionStatus, projector } from '../core/index.js';
import { shopProjections } from '../shop/query-handlers.js';
import {
  SqliteEventStore,
  SqliteReadStore,
  sqliteFullText,
  sqliteSql,
} from '../stores/sqlite/index.js';

export interface SeedProjectorInput {
  readonly writeDb: string;
  readonly readDb: string;
  readonly batchSize: number;
  /** How often to look for new events: appends in another thread cannot wake the projector. */
  readonly pollMs: number;
  /**
   * The main thread writes with automatic WAL checkpoints off, so that copying its pages into
   * the database file costs it nothing: this thread does it, this often, on its own connection.
   */
  readonly checkpointEveryMs: number;
}

/** From the main thread: catch up to `head` (the writing is over), or stop now. */
export type ToSeedProjector = { type: 'finish'; head: bigint } | { type: 'stop' };

/** To the main thread. */
export type FromSeedProjector =
  | { type: 'ready' }
  | { type: 'progress'; position: bigint }
  | { type: 'done'; position: bigint }
  | { type: 'failed'; message: string };

const POST_EVERY_MS = 200;

/** The slowest projection's position: everything up to it is in every read model. */
export const slowest = (statuses: readonly ProjectionStatus[]) =>
  statuses.reduce<bigint | undefined>(
    (min, s) => (min === undefined || s.position < min ? s.position : min),
    undefined,
  ) ?? 0n;

export function failureOf(statuses: readonly ProjectionStatus[]): string | undefined {
  const failed = statuses.find((s) => s.status === 'failed');
  if (!failed) return undefined;
  const f = failed.failure;
  return f
    ? `projection ${failed.name} failed at position ${f.position} (${f.eventType} ${f.eventId}) after ${f.attempts} attempts: ${f.error}`
    : `projection ${failed.name} failed`;
}

async function run(port: NonNullable<typeof parentPort>, input: SeedProjectorInput) {
  const post = (m: FromSeedProjector) => port.postMessage(m);
  const log = new SqliteEventStore({ path: input.writeDb });
  const read = new SqliteReadStore({ path: input.readDb });
  // Bulk projection only: room for the read models' pages (this connection only, not `serve`'s).
  read.db.pragma('cache_size = -524288');
  const worker = projector({
    log: log.log,
    store: mapReadStore(read, (db) => ({ sql: sqliteSql(db), fullText: sqliteFullText })),
    projections: shopProjections(),
    batchSize: input.batchSize,
    pollMs: input.pollMs,
  });
  let timer: ReturnType<typeof setInterval> | undefined;
  // PASSIVE: copies what no reader still needs, never waits for (or blocks) the writer. One
  // that fails costs nothing but a longer WAL, which the main thread's close checkpoints anyway.
  const checkpoints = setInterval(() => {
    try {
      log.db.pragma('wal_checkpoint(PASSIVE)');
    } catch {}
  }, input.checkpointEveryMs);
  let onMessage: ((m: ToSeedProjector) => void) | undefined;
  try {
    // Ends with the head to reach, or undefined when told to stop.
    const finish = new Promise<bigint | undefined>((resolve) => {
      onMessage = (m) => resolve(m.type === 'finish' ? m.head : undefined);
      port.on('message', onMessage);
    });
    await worker.start();
    post({ type: 'ready' });
    // A failure is reported as soon as it is final, so that the writing stops early.
    const failed = new Promise<string>((resolve) => {
      timer = setInterval(async () => {
        const statuses = await worker.status();
        const failure = failureOf(statuses);
        if (failure) resolve(failure);
        else post({ type: 'progress', position: slowest(statuses) });
      }, POST_EVERY_MS);
    });
    const head = await Promise.race([finish, failed.then(() => undefined)]);
    if (head !== undefined) {
      // Ends at once, too, if a projection fails.
      const names = shopProjections().map((p) => p.name);
      const outcome = await worker.waitFor(head, names, 24 * 3600_000);
      if (outcome.reached) post({ type: 'done', position: slowest(await worker.status()) });
    }
    const failure = failureOf(await worker.status());
    if (failure) post({ type: 'failed', message: failure });
  } finally {
    clearInterval(timer);
    clearInterval(checkpoints);
    if (onMessage) port.off('message', onMessage);
    await worker.stop();
    await read.close();
    await log.close();
  }
}

if (parentPort) {
  const port = parentPort;
  run(port, workerData as SeedProjectorInput).catch((error: unknown) => {
    port.postMessage({
      type: 'failed',
      message: error instanceof Error ? error.message : String(error),
    } satisfies FromSeedProjector);
    process.exitCode = 1;
  });
}
