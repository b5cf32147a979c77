import { Worker } from 'node:worker_threads';
import { type Config, isPostgresUrl } from '../config.js';
import { mapWriteStore, timeOrderedId } from '../core/index.js';
import { openWriteStore } from '../main.js';
import { bulkSeed, bulkSeedEvents } from '../shop/bulk-seed.js';
import { sqliteFullText, sqliteSql } from '../stores/sqlite/index.js';
import { progressBars } from './progress.js';
import { seedPostgres } from './seed-postgres.js';
import type { FromSeedProjector, SeedProjectorInput, ToSeedProjector } from './seed-projector.js';

// Large batches: fewer read-DB commits, each product's events summed once per batch.
const BATCH_SIZE = 20_000;
// The projector thread cannot hear this thread's appends: it polls the log this often.
const POLL_MS = 25;
const CHECKPOINT_EVERY_MS = 250;
// A batch of 20,000 events is tens of MB alive at once: a young generation that holds it saves
// most of the garbage collector's work.
const YOUNG_GENERATION_MB = 384;
const STOP_GRACE_MS = 10_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A promise with its settle functions; a rejection nobody awaits is not reported as unhandled. */
function deferred() {
  let resolve: () => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** The projector's worker thread, as the main thread sees it. */
interface ProjectorThread {
  /** Resolves once the projector runs (read models set up, checkpoints loaded). */
  readonly ready: Promise<void>;
  /** Why the thread failed, once it has. */
  failure(): Error | undefined;
  /** Tells it that the log ends at `head`; resolves when every read model has reached it. */
  finish(head: bigint): Promise<void>;
  /** Stops it (gracefully, then by force) unless it has exited already. */
  close(): Promise<void>;
}

function startProjectorThread(
  input: SeedProjectorInput,
  onPosition: (position: bigint) => void,
): ProjectorThread {
  const file = import.meta.url.endsWith('.ts') ? './seed-projector.ts' : './seed-projector.js';
  const worker = new Worker(new URL(file, import.meta.url), {
    workerData: input,
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
  let failure: Error | undefined;
  let finished = false;
  const ready = deferred();
  const done = deferred();
  const fail = (message: string) => {
    if (failure) return;
    failure = new Error(`building the read models failed: ${message}`);
    ready.reject(failure);
    done.reject(failure);
  };
  worker.on('message', (m: FromSeedProjector) => {
    if (m.type === 'ready') ready.resolve();
    else if (m.type === 'progress') onPosition(m.position);
    else if (m.type === 'done') {
      finished = true;
      onPosition(m.position);
      done.resolve();
    } else fail(m.message);
  });
  worker.on('error', (error) => fail(error.message));
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      if (!finished) fail(`the projector thread ended early (exit code ${code})`);
      resolve();
    }),
  );
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const send = (m: ToSeedProjector) => worker.postMessage(m);
  return {
    ready: ready.promise,
    failure: () => failure,
    async finish(head) {
      send({ type: 'finish', head });
      await done.promise;
    },
    async close() {
      if (gone) return;
      if (!finished) send({ type: 'stop' });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const graceOver = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), STOP_GRACE_MS);
      });
      const forced = await Promise.race([exited.then(() => false), graceOver]);
      clearTimeout(timer);
      if (forced) await worker.terminate();
    },
  };
}

const count = (n: number) => n.toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function report(
  seeded: { products: number; reviews: number; events: number },
  writing: number,
  catchingUp: number,
  total: number,
) {
  console.log(
    `seeded ${count(seeded.products)} products, ${count(seeded.reviews)} reviews, ` +
      `${count(seeded.events)} events in ${seconds(writing)}; read models built ` +
      `alongside, caught up ${seconds(catchingUp)} after the last write; total ${seconds(total)}`,
  );
}

/**
 * `tworooms seed`: bulk-loads a catalog while a worker thread projects it into the read models,
 * with a progress bar for each; ends when every read model has caught up. On PostgreSQL see
 * `seedPostgres`.
 */
export async function seedCommand(
  config: Config,
  opts: { products: number; reviews?: number; categories: number },
): Promise<void> {
  const reviews = opts.reviews ?? opts.products * 10;
  const categories = Math.max(1, opts.categories);
  const started = performance.now();
  if (isPostgresUrl(config.writeDb)) {
    const plan = {
      products: opts.products,
      reviews: opts.products === 0 ? 0 : reviews,
      categories,
    };
    const progress = progressBars(started);
    try {
      const { seeded, written } = await seedPostgres(config, plan, progress);
      const total = performance.now() - started;
      progress.stop();
      report(seeded, written - started, total - (written - started), total);
    } finally {
      progress.stop();
    }
    return;
  }
  const store = await openWriteStore(config);
  // A bulk load touches index pages all over a large file: give SQLite room to keep them (1 GiB).
  store.db.pragma('cache_size = -1048576');
  // Checkpoints (copying the WAL into the database file) run in the projector's thread instead.
  store.db.pragma('wal_autocheckpoint = 0');
  const plan = {
    products: opts.products,
    reviews: opts.products === 0 ? 0 : reviews,
    categories,
  };
  const planned = (await store.headPosition()) + BigInt(bulkSeedEvents(plan));
  const progress = progressBars(started);
  let head = planned;
  const thread = startProjectorThread(
    {
      writeDb: config.writeDb,
      readDb: config.readDb,
      batchSize: BATCH_SIZE,
      pollMs: POLL_MS,
      checkpointEveryMs: CHECKPOINT_EVERY_MS,
    },
    (position) => progress.update('projecting', Number(position), Number(head)),
  );
  let closed = false;
  try {
    await thread.ready;
    const seeded = await bulkSeed(mapWriteStore(store, sqliteSql), sqliteFullText, {
      ...plan,
      newId: timeOrderedId,
      now: new Date(),
      async progress(phase, done, total) {
        progress.update(phase, done, total);
        await nextTurn(); // lets the projector's messages and the bars' redraws in
        const failure = thread.failure();
        if (failure) throw failure;
      },
    });
    const written = performance.now();
    head = await store.headPosition();
    await thread.finish(head);
    const projected = performance.now();
    await thread.close();
    await store.close();
    closed = true;
    progress.stop();
    const total = performance.now() - started;
    report(seeded, written - started, projected - written, total);
  } finally {
    progress.stop();
    await thread.close();
    if (!closed) await store.close();
  }
}
