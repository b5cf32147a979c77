// The catalog projection on a worker thread for the rebuild benchmark, as `serve` runs the
// shop's projections on SQLite (its projector thread): the rebuild's synchronous work (batches,
// index builds, the switch, the old copy's drop) runs beside the thread asking the queries.
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { mapReadStore, type Projector, projector } from '../src/core/index.js';
import { catalogProjection } from '../src/shop/catalog/projection.js';
import {
  SqliteEventStore,
  SqliteReadStore,
  sqliteFullText,
  sqliteSql,
} from '../src/stores/sqlite/index.js';

interface Input {
  readonly writePath: string;
  readonly readPath: string;
  readonly batchSize: number;
}

/** Times are absolute (`performance.timeOrigin + performance.now()`): threads differ in origin. */
type FromThread =
  | { readonly ready: true }
  | { readonly phase: string; readonly at: number }
  | { readonly rebuilt: true }
  | { readonly error: string }
  | { readonly stopped: true };

const now = () => performance.timeOrigin + performance.now();

/** What the benchmark drives: start (caught up), rebuild (phases told as they come), stop. */
export interface RebuildDriver {
  start(): Promise<void>;
  rebuild(onPhase: (phase: string, at: number) => void): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Tells `onPhase` each new phase of the projector's (only) rebuild, as the projector reports
 * progress; answers how to stop listening.
 */
export function watchPhases(p: Projector<unknown>, onPhase: (phase: string) => void): () => void {
  let last: string | undefined;
  return p.onProgress(() => {
    void p.status().then((s) => {
      const phase = s[0]?.rebuild?.phase;
      if (phase && phase !== last) {
        last = phase;
        onPhase(phase);
      }
    });
  });
}

/** Starts the catalog projection on a thread of its own over the two SQLite files. */
export function rebuildOnThread(input: Input): RebuildDriver {
  const self = new URL(import.meta.url);
  const worker = new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(self.href)}); });`,
    { eval: true, workerData: { rebuildThread: input } },
  );
  let listener: ((m: FromThread) => void) | undefined;
  worker.on('message', (m: FromThread) => listener?.(m));
  const next = <T>(pick: (m: FromThread) => T | undefined) =>
    new Promise<T>((resolve, reject) => {
      listener = (m) => {
        if ('error' in m) reject(new Error(m.error));
        const v = pick(m);
        if (v !== undefined) resolve(v);
      };
    });
  return {
    start: async () => {
      await next((m) => ('ready' in m ? true : undefined));
    },
    async rebuild(onPhase) {
      const done = next((m) => {
        if ('phase' in m) onPhase(m.phase, m.at - performance.timeOrigin);
        return 'rebuilt' in m ? true : undefined;
      });
      worker.postMessage('rebuild');
      await done;
    },
    async stop() {
      const stopped = next((m) => ('stopped' in m ? true : undefined));
      worker.postMessage('stop');
      await stopped;
      await worker.terminate();
    },
  };
}

async function run(input: Input) {
  const port = parentPort!;
  const post = (m: FromThread) => port.postMessage(m);
  const log = new SqliteEventStore({ path: input.writePath });
  // As `serve`'s projector thread opens it: WAL checkpoints on a thread of their own.
  const read = new SqliteReadStore({ path: input.readPath, backgroundCheckpoints: true });
  const p = projector({
    log: log.log,
    store: mapReadStore(read, (db) => ({ sql: sqliteSql(db), fullText: sqliteFullText })),
    projections: [catalogProjection],
    batchSize: input.batchSize,
  });
  await p.start();
  if (!(await p.catchUp(3_600_000)).reached) throw new Error('the live catalog did not catch up');
  watchPhases(p, (phase) => post({ phase, at: now() }));
  port.on('message', (m: string) => {
    if (m === 'rebuild')
      p.rebuild('catalog').then(
        () => post({ rebuilt: true }),
        (e: unknown) => post({ error: String(e) }),
      );
    else if (m === 'stop')
      void (async () => {
        await p.stop();
        await read.close();
        await log.close();
        post({ stopped: true });
      })();
  });
  post({ ready: true });
}

const job = (workerData as { rebuildThread?: Input } | null)?.rebuildThread;
if (job) run(job).catch((e: unknown) => parentPort?.postMessage({ error: String(e) }));
