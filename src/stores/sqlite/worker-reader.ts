import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BoundedMap } from '../../core/bounded-map.js';
import { refuseNul, type Sql } from '../../core/sql.js';

/**
 * The worker's code, plain CommonJS so that it runs alike from source (tsx, vitest) and from
 * dist/: one read-only connection with `openSqlite`'s read-only settings, one prepared statement
 * per distinct SQL text.
 */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('query_only = ON');
const statements = new Map();
parentPort.on('message', ({ id, method, sql, params }) => {
  try {
    let s = statements.get(sql);
    if (!s) {
      s = db.prepare(sql);
      statements.set(sql, s);
    }
    const started = performance.now();
    const value = method === 'get' ? s.get(...params) : s.all(...params);
    parentPort.postMessage({ id, value, ms: performance.now() - started });
  } catch (e) {
    parentPort.postMessage({ id, error: { message: String(e && e.message), code: e && e.code } });
  }
});`;

const toSqlite = (v: unknown) =>
  typeof v === 'boolean' ? (v ? 1 : 0) : v === undefined ? null : v;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  readonly sql: string;
  /** What this statement was expected to cost (ms) when it was queued. */
  readonly cost: number;
}

interface Thread {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  /** The expected cost (ms) of the statements queued on this thread, the running one included. */
  queued: number;
}

/** Expected cost of a statement never timed yet (ms): about a cheap indexed read. */
const UNKNOWN_COST = 0.5;
/** Weight of the newest timing in a statement's running mean cost. */
const COST_WEIGHT = 0.2;
/** How many statements' costs are kept (distinct SQL texts; the oldest forgotten first). */
const COSTS_KEPT = 1000;

/** A read-only `Sql` whose statements run on worker threads, and how to stop them. */
export interface WorkerSql extends Sql {
  close(): Promise<void>;
}

/**
 * A read-only `Sql` on a SQLite file whose statements run on `threads` worker threads, each with
 * its own read-only connection: a slow query (a search ranking thousands of matches) no longer
 * holds the server's event loop, so cached answers and writes go on meanwhile. Each statement
 * sees the latest commit, as on a connection of the main thread (WAL: readers never wait for
 * the writer). `run` and `exec` refuse: this handle only reads.
 * @example
 *   const reader = sqliteWorkerSql('data/read.db', 2);
 *   const rows = await reader.all('SELECT id FROM rm_catalog_products LIMIT ?', [24]);
 *   await reader.close();
 */
export function sqliteWorkerSql(path: string, threads: number): WorkerSql {
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`threads must be a whole number ≥ 1 (got ${threads})`);
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  let nextId = 0;
  let closed = false;
  /** SQL text -> running mean of its time on a thread (ms), as the thread measured it. */
  const costs = new BoundedMap<string, number>(COSTS_KEPT);
  const learn = (sql: string, ms: number) => {
    const mean = costs.get(sql);
    costs.set(sql, mean === undefined ? ms : mean + COST_WEIGHT * (ms - mean));
  };
  const pool: Thread[] = Array.from({ length: threads }, () => {
    const worker = new Worker(THREAD, { eval: true, workerData: { driver, path } });
    const thread: Thread = { worker, pending: new Map(), queued: 0 };
    const settle = (id: number): Pending | undefined => {
      const p = thread.pending.get(id);
      if (!p) return undefined;
      thread.pending.delete(id);
      thread.queued = thread.pending.size === 0 ? 0 : thread.queued - p.cost;
      return p;
    };
    worker.on(
      'message',
      (m: {
        id: number;
        value?: unknown;
        ms?: number;
        error?: { message: string; code?: string };
      }) => {
        const p = settle(m.id);
        if (!p) return;
        if (m.ms !== undefined) learn(p.sql, m.ms);
        if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
        else p.resolve(m.value);
      },
    );
    const failAll = (error: Error) => {
      for (const p of thread.pending.values()) p.reject(error);
      thread.pending.clear();
      thread.queued = 0;
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`SQLite reader thread exited (${code})`)));
    worker.unref(); // never what keeps a process alive
    return thread;
  });
  const ask = async (method: 'get' | 'all', sql: string, params: readonly unknown[] = []) => {
    if (closed) throw new Error('the SQLite reader is closed');
    refuseNul(params);
    // The thread with the least expected work queued (each statement's cost as timed before):
    // a 1 ms page read goes to the thread that is not ranking a 30 ms search, even when both
    // have one statement in flight.
    let thread = pool[0]!;
    for (const t of pool) if (t.queued < thread.queued) thread = t;
    const cost = costs.get(sql) ?? UNKNOWN_COST;
    thread.queued += cost;
    const id = nextId++;
    return new Promise<unknown>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject, sql, cost });
      thread.worker.postMessage({ id, method, sql, params: params.map(toSqlite) });
    });
  };
  const readOnly = () => Promise.reject(new Error('read-only: this SQLite handle only reads'));
  return {
    dialect: 'sqlite',
    run: readOnly,
    exec: readOnly,
    get: <T>(sql: string, params?: readonly unknown[]) =>
      ask('get', sql, params) as Promise<T | undefined>,
    all: <T>(sql: string, params?: readonly unknown[]) => ask('all', sql, params) as Promise<T[]>,
    async close() {
      closed = true;
      await Promise.all(pool.map((t) => t.worker.terminate()));
    },
  };
}
