// Part of the composition root: the embedded shop's projector on its own thread (SQLite,
// `TWOROOMS_PROJECT_THREAD=on`). better-sqlite3 is synchronous: on the event loop, each batch's
// log read, statements and commit hold every request behind them. On this thread they run
// beside the API; the event loop only hears what it needs — positions (read-your-writes), the
// cache tags to drop, and the answers to the admin API's calls.
import { isMainThread, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { Config } from './config.js';
import type { Cache } from './core/cache.js';
import {
  type EventLog,
  type ProgressSource,
  type ProjectionActivity,
  type ProjectionStatus,
  projector,
  type WaitOutcome,
} from './core/index.js';
import { errorMessage, processShopJobs, shopProjectionHooks } from './main-parts.js';
import { openJobs, openReadSide } from './main-stores.js';
import {
  batched,
  moduleThread,
  reviveError,
  type SerializedError,
  serializeError,
} from './main-threads.js';
import { wokenByWriter } from './main-writer.js';
import { shopProjections } from './shop/query-handlers.js';
import { SqliteEventStore } from './stores/sqlite/index.js';

export interface ProjectorThreadOptions {
  /** The process's configuration (SQLite files; the thread opens its own connections). */
  readonly config: Config;
  /** Events per batch (default: the projector's). */
  readonly batchSize?: number;
  /** How long a live projection waits for a wake-up before it reads the log anyway (default 1 s). */
  readonly pollMs?: number;
}

/** Each projection's position and whether it has stopped failed, as the thread last told. */
type Positions = readonly (readonly [
  name: string,
  position: bigint | undefined,
  failed: boolean,
])[];

const CALLS = [
  'start',
  'stop',
  'status',
  'activity',
  'rebuild',
  'retry',
  'skip',
  'catchUp',
] as const;
type Call = (typeof CALLS)[number];

type ToThread =
  | { readonly head: bigint }
  | { readonly id: number; readonly call: Call; readonly args: readonly unknown[] }
  | { readonly close: true };

type FromThread =
  | { readonly ready: Positions }
  | { readonly failed: SerializedError }
  | { readonly progress: Positions }
  | { readonly invalidate: readonly string[] }
  | { readonly clear: true }
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: SerializedError }
  | { readonly closed: true };

/** The projector as the API process sees it: the calls `serve` and its admin API make. */
export interface ProjectorThread extends ProgressSource {
  status(): Promise<ProjectionStatus[]>;
  activity(): Promise<ProjectionActivity[]>;
  rebuild(name: string): Promise<void>;
  retry(name: string): Promise<void>;
  skip(name: string, position: bigint): Promise<unknown>;
  catchUp(timeoutMs?: number, names?: readonly string[]): Promise<WaitOutcome>;
  /** Projects again after `stop()` (the thread starts projecting by itself). */
  start(): Promise<void>;
  /** Stops projecting (the batch in hand commits first); the thread stays for `start()`. */
  stop(): Promise<void>;
  /** Stops projecting and ends the thread. */
  close(): Promise<void>;
}

/**
 * Starts the shop's projections on a thread and waits until they have started. `log` is what
 * wakes them: each head it announces (the writer thread's commits, this process's appends) is
 * passed on. `cache` is dropped by tag and cleared as the thread's hooks say, before the
 * positions that follow are published, so a read that waited for a position never meets an
 * answer cached before it.
 */
export async function startProjectorThread(
  options: ProjectorThreadOptions,
  wiring: {
    readonly log: Pick<EventLog, 'onAppended'>;
    /**
     * Where the writer thread posts its heads (`WriterThread.sendHeadsTo`'s other end): the
     * thread hears of those commits directly, and `log` need only announce the others.
     */
    readonly heads?: MessagePort;
    readonly cache: Pick<Cache, 'invalidate' | 'clear'> | undefined;
    /** Told if the thread dies while running (the read models stop following the log). */
    readonly onDeath: (error: Error) => void;
  },
): Promise<ProjectorThread> {
  const { heads } = wiring;
  const worker = moduleThread(
    import.meta.url,
    { tworoomsProjector: options, ...(heads ? { tworoomsHeads: heads } : {}) },
    heads ? [heads] : [],
  );
  const pending = new Map<number, { resolve(r: unknown): void; reject(e: Error): void }>();
  const listeners = new Set<() => void>();
  let positions = new Map<string, { position: bigint | undefined; failed: boolean }>();
  let nextId = 0;
  let gone: Error | undefined;
  let stopping = false;
  let closed: (() => void) | undefined;
  const publish = (p: Positions) => {
    positions = new Map(p.map(([name, position, failed]) => [name, { position, failed }]));
    for (const l of listeners) l();
  };
  const failAll = (error: Error) => {
    gone ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const warn = (what: string) => (error: unknown) =>
    console.warn(`tworooms: ${what}: ${errorMessage(error)}`);
  const ready = new Promise<void>((resolve, reject) => {
    const receive = (m: FromThread) => {
      if ('progress' in m) publish(m.progress);
      else if ('invalidate' in m) wiring.cache?.invalidate(m.invalidate).catch(warn('cache'));
      else if ('clear' in m) wiring.cache?.clear().catch(warn('cache'));
      else if ('id' in m) {
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        if ('error' in m) p.reject(reviveError(m.error));
        else p.resolve(m.result);
      } else if ('ready' in m) {
        publish(m.ready);
        resolve();
      } else if ('failed' in m) reject(reviveError(m.failed));
      else if ('closed' in m) closed?.();
    };
    worker.on('message', (batch: FromThread[]) => {
      for (const m of batch) receive(m);
    });
    worker.on('error', (error) => {
      failAll(error);
      reject(error);
    });
    worker.on('exit', (code) => {
      const error = new Error(`the projector thread stopped (exit code ${code})`);
      const died = !gone && !stopping;
      failAll(error);
      reject(error);
      closed?.();
      if (died) wiring.onDeath(error);
    });
  });
  const unsubscribe = wiring.log.onAppended((head) => {
    if (!gone) worker.postMessage({ head } satisfies ToThread);
  });
  try {
    await ready;
  } catch (error) {
    unsubscribe();
    await worker.terminate();
    throw error;
  }
  const call = <T>(name: Call, ...args: unknown[]): Promise<T> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      worker.postMessage({ id, call: name, args } satisfies ToThread);
    });
  };
  return {
    positionOf: (name) => positions.get(name)?.position,
    isFailed: (name) => positions.get(name)?.failed ?? false,
    onProgress(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    status: () => call('status'),
    activity: () => call('activity'),
    rebuild: (name) => call('rebuild', name),
    retry: (name) => call('retry', name),
    skip: (name, position) => call('skip', name, position),
    catchUp: (timeoutMs, names) => call('catchUp', timeoutMs, names),
    start: () => call('start'),
    stop: () => call('stop'),
    async close() {
      unsubscribe();
      if (gone) return;
      stopping = true;
      const done = new Promise<void>((resolve) => (closed = resolve));
      worker.postMessage({ close: true } satisfies ToThread);
      await done;
      gone = new Error('the projector thread is stopped');
      await worker.terminate();
    },
  };
}

/** The thread's side: its own connections, the projector, the jobs it queues and runs. */
async function runProjector(
  options: ProjectorThreadOptions,
  heads: MessagePort | undefined,
): Promise<void> {
  const port = parentPort!;
  // What one turn of this thread tells the event loop (a batch's tags to drop, then the positions
  // of the projections that moved) crosses in one message, in order.
  const send = batched<FromThread>((batch) => port.postMessage(batch), queueMicrotask);
  const { config } = options;
  // Reads the log only (the writer thread or the event loop appends); woken by the heads passed on.
  const log = new SqliteEventStore({ path: config.writeDb, synchronous: config.sqliteSynchronous });
  const woken = new Set<(head: bigint) => void>();
  const wake = (head: bigint) => {
    for (const l of woken) l(head);
  };
  const wokenLog = wokenByWriter(log, {
    onAppended(listener) {
      woken.add(listener);
      return () => woken.delete(listener);
    },
  });
  const read = await openReadSide({ ...config, sqliteReadThreads: 0, sqliteProjectThread: false });
  const jobs = openJobs(config);
  await processShopJobs(jobs, read);
  const hooks = shopProjectionHooks({
    cache: {
      invalidate: async (tags) => send({ invalidate: tags }),
      clear: async () => send({ clear: true }),
    },
    jobs,
    jobDelayMs: config.jobDelayMs,
  });
  const projections = shopProjections();
  const names = projections.map((p) => p.name);
  const worker = projector({
    log: wokenLog,
    store: read.store,
    projections,
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    ...(options.pollMs ? { pollMs: options.pollMs } : {}),
    coalesceMs: config.projectCoalesceMs,
    onApplied: hooks.onApplied,
    onSwitched: hooks.onSwitched,
  });
  const positions = (): Positions =>
    names.map((n) => [n, worker.positionOf(n), worker.isFailed(n)] as const);
  worker.onProgress(() => send({ progress: positions() }));
  const calls: Record<Call, (...args: never[]) => Promise<unknown>> = {
    start: () => worker.start(),
    stop: () => worker.stop(),
    status: () => worker.status(),
    activity: () => worker.activity(),
    rebuild: (name: string) => worker.rebuild(name),
    retry: (name: string) => worker.retry(name),
    skip: (name: string, position: bigint) => worker.skip(name, position),
    catchUp: (timeoutMs: number | undefined, only: readonly string[] | undefined) =>
      worker.catchUp(timeoutMs, only),
  };
  heads?.on('message', wake);
  port.on('message', (m: ToThread) => {
    if ('head' in m) wake(m.head);
    else if ('close' in m) {
      void (async () => {
        await worker.stop();
        await jobs.close();
        await read.close();
        await log.close();
        heads?.close();
      })()
        .catch((error: unknown) =>
          console.warn(`tworooms: projector thread: ${errorMessage(error)}`),
        )
        .finally(() => send({ closed: true }));
    } else {
      const run = calls[m.call] as (...args: readonly unknown[]) => Promise<unknown>;
      run(...m.args).then(
        (result) => send({ id: m.id, result }),
        (error: unknown) => send({ id: m.id, error: serializeError(error) }),
      );
    }
  });
  await worker.start();
  send({ ready: positions() });
}

const data = workerData as {
  tworoomsProjector?: ProjectorThreadOptions;
  tworoomsHeads?: MessagePort;
} | null;
const job = data?.tworoomsProjector;
if (!isMainThread && job)
  runProjector(job, data?.tworoomsHeads).catch((error: unknown) =>
    parentPort?.postMessage([{ failed: serializeError(error) } satisfies FromThread]),
  );
