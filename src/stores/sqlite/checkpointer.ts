import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { AUTOCHECKPOINT_PAGES } from './open.js';

/**
 * The thread's code, plain CommonJS so that it runs alike from source and from dist/: its own
 * connection, a PASSIVE checkpoint every `everyMs` (never waits for a reader or the writer).
 */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
// Background work: on Linux the thread takes the lowest CPU priority (nice 19), so that on a
// busy machine copying the WAL waits for the threads serving requests, not they for it.
try {
  if (process.platform === 'linux')
    require('node:os').setPriority(
      Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()),
      19,
    );
} catch {}
const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (r && r.checkpointed > 0) parentPort.postMessage({ frames: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ error: String(e && e.message) });
  }
}, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m === 'close') {
    clearInterval(timer);
    db.close();
    parentPort.close();
  }
});`;

/** WAL pages a connection lets pile up before it checkpoints on its own commit, as a backstop. */
export const BACKSTOP_PAGES = 50_000;

export interface BackgroundCheckpoints {
  /** WAL frames the thread's last checkpoint that copied any had copied into the file. */
  readonly frames: number;
  close(): Promise<void>;
}

/**
 * Moves a SQLite file's WAL checkpoints off the committing thread, to one of the lowest CPU
 * priority (Linux). With automatic checkpoints, the commit that crosses `wal_autocheckpoint`
 * copies the WAL into the database file and syncs it, on the thread that committed: measured
 * 20–35 ms on the read DB during the flash sale, on the event loop that serves cached pages.
 * Here a worker thread with its own connection runs a PASSIVE checkpoint every `everyMs`
 * (default 250); `db` (the writing connection) keeps an automatic checkpoint only as a backstop,
 * at `BACKSTOP_PAGES`, should the thread fall behind (on a machine whose cores the serving
 * threads keep busy, the low-priority thread may).
 * @example
 *   const checkpoints = backgroundCheckpoints(store.db, 'data/read.db');
 *   // … commits no longer checkpoint …
 *   await checkpoints.close();
 */
export function backgroundCheckpoints(
  db: Database.Database,
  path: string,
  options: { readonly everyMs?: number; readonly onError?: (message: string) => void } = {},
): BackgroundCheckpoints {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(THREAD, {
    eval: true,
    workerData: { driver, path, everyMs: options.everyMs ?? 250 },
  });
  worker.unref(); // never what keeps a process alive
  db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  let frames = 0;
  worker.on('message', (m: { frames?: number; error?: string }) => {
    if (m.frames !== undefined) frames = m.frames;
    if (m.error) options.onError?.(m.error);
  });
  // Without the thread (closed or crashed), the connection checkpoints on its commits again.
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
      resolve();
    }),
  );
  worker.on('error', (e) => options.onError?.(e.message));
  let closing: Promise<void> | undefined;
  return {
    get frames() {
      return frames;
    },
    close() {
      closing ??= (async () => {
        worker.ref(); // awaited now: its exit must keep the process alive until it comes
        worker.postMessage('close');
        await exited;
      })();
      return closing;
    },
  };
}

/** A store's background checkpoints on `path` (none for an in-memory database), warning on errors. */
export function checkpointsOf(
  db: Database.Database,
  path: string,
): BackgroundCheckpoints | undefined {
  if (path === ':memory:') return undefined;
  return backgroundCheckpoints(db, path, {
    onError: (message) => console.warn(`tworooms: checkpoint of ${path}: ${message}`),
  });
}
