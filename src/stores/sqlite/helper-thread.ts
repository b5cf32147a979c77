import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The thread's code, plain CommonJS so that it runs alike from source (tsx, vitest) and from
 * dist/: one read-write connection; a passive WAL checkpoint whenever the owner has committed
 * since the last one (looked at every `everyMs`); statements run on request (the close).
 */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = ' + workerData.synchronous);
db.pragma('wal_autocheckpoint = 0');
const commits = new Int32Array(workerData.commits);
let seen = 0;
const checkpoint = () => {
  const now = Atomics.load(commits, 0);
  if (now === seen) return;
  seen = now;
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { seen = -1; }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', ({ id, statements, close }) => {
  if (close) {
    clearInterval(timer);
    db.close();
    parentPort.postMessage({ id });
    return;
  }
  try {
    for (const s of statements) db.exec(s);
    seen = -1; // its own commits are checkpointed at the next look
    parentPort.postMessage({ id });
  } catch (e) {
    parentPort.postMessage({ id, error: { message: String(e && e.message), code: e && e.code } });
  }
});`;

export interface SqliteHelperOptions {
  /** The owner's `synchronous` setting (the checkpoints sync as its own would). */
  readonly synchronous: 'NORMAL' | 'FULL';
  /** How often the thread looks for commits to checkpoint (ms, default 25). */
  readonly everyMs?: number;
}

/**
 * A thread with its own connection to a SQLite file in WAL mode that runs the owner's WAL
 * checkpoints off the owner's event loop (the owner turns its own automatic ones off and calls
 * `committed()` after each commit). (Index builds and table drops were tried there too: on the
 * helper's connection they took 2 to 10 times as long as on the owner's, so they stay inline.) A checkpoint copies the WAL's pages into the database file and syncs it: done by the
 * owner's connection, each one stopped its event loop for 50–150 ms in a rebuild's copy.
 */
export class SqliteHelperThread {
  private readonly worker: Worker;
  private readonly commits = new Int32Array(new SharedArrayBuffer(4));
  private readonly pending = new Map<number, { resolve(): void; reject(e: Error): void }>();
  private nextId = 0;
  private exited = false;

  constructor(path: string, options: SqliteHelperOptions, onExit: () => void) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(THREAD, {
      eval: true,
      workerData: {
        driver,
        path,
        synchronous: options.synchronous,
        everyMs: options.everyMs ?? 25,
        commits: this.commits.buffer,
      },
    });
    this.worker.on('message', (m: { id: number; error?: { message: string; code?: string } }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else p.resolve();
    });
    const failAll = (error: Error) => {
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    this.worker.on('error', failAll);
    this.worker.on('exit', (code) => {
      this.exited = true;
      failAll(new Error(`SQLite helper thread exited (${code})`));
      onExit();
    });
    this.worker.unref(); // never what keeps a process alive
  }

  /** The owner committed: the thread checkpoints at its next look. */
  committed(): void {
    Atomics.add(this.commits, 0, 1);
  }

  /** Closes the thread's connection and ends the thread. */
  async close(): Promise<void> {
    if (this.exited) return;
    await this.post({ close: true }).catch(() => undefined);
    await this.worker.terminate();
  }

  private post(message: { statements?: readonly string[]; close?: boolean }): Promise<void> {
    if (this.exited) return Promise.reject(new Error('The SQLite helper thread has exited'));
    const id = this.nextId++;
    // Awaited work keeps the process alive until it is done; an idle thread never does.
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...message });
    });
  }
}
