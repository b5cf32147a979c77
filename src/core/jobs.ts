/**
 * Background jobs: costly recomputations (e.g. related products from co-purchases) that must not
 * run inside a command or a projection batch. A job is named, keyed (one pending job per key:
 * adding it again while it waits does not queue a second one — a debounce), retried with back-off
 * when it throws, and must be idempotent: it recomputes from the current state, so running it
 * twice is harmless.
 */
export interface JobQueue {
  /** Queues `name` for `key` to run after `delayMs`; a no-op while one for that key still waits. */
  add(name: string, key: string, options?: { readonly delayMs?: number }): Promise<void>;
  /** Runs `handler` for each job of `name` (in this process). */
  process(name: string, handler: JobHandler): void;
  /** Resolves when no job waits or runs (tests, shutdown). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export type JobHandler = (key: string) => Promise<void>;

export interface JobOptions {
  /** Attempts before a job is given up (default 5). */
  readonly attempts?: number;
  /** First back-off in ms, doubled per attempt (default 100). */
  readonly backoffMs?: number;
  /** Told when a job gives up after its last attempt. */
  readonly onFailed?: (name: string, key: string, error: unknown) => void;
}

/**
 * The embedded default: jobs run in this process, one at a time per name. What waits is lost
 * when the process stops; that is acceptable because every job recomputes derived data that the
 * next trigger recomputes again.
 * @example
 *   const jobs = inProcessJobs();
 *   jobs.process('also-bought', (productId) => recompute(productId));
 *   await jobs.add('also-bought', 'p1', { delayMs: 500 });
 */
export function inProcessJobs(options: JobOptions = {}): JobQueue {
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 100;
  const handlers = new Map<string, JobHandler>();
  const pending = new Map<string, { name: string; key: string; timer: unknown }>();
  const queue: { name: string; key: string }[] = [];
  let running = false;
  let closed = false;
  let idle: (() => void)[] = [];

  const settleIdle = () => {
    if (pending.size > 0 || queue.length > 0 || running) return;
    const waiting = idle;
    idle = [];
    for (const resolve of waiting) resolve();
  };

  const runOne = async (name: string, key: string) => {
    const handler = handlers.get(name);
    if (!handler) {
      options.onFailed?.(name, key, new Error(`No handler for job ${name}.`));
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await handler(key);
        return;
      } catch (error) {
        if (attempt >= attempts || closed) {
          options.onFailed?.(name, key, error);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 1)));
      }
    }
  };

  const pump = async () => {
    if (running) return;
    running = true;
    try {
      for (let job = queue.shift(); job && !closed; job = queue.shift()) {
        await runOne(job.name, job.key);
      }
    } finally {
      running = false;
      settleIdle();
    }
  };

  return {
    async add(name, key, opts = {}) {
      if (closed) return;
      const id = `${name}\u0000${key}`;
      if (pending.has(id)) return;
      const fire = () => {
        pending.delete(id);
        queue.push({ name, key });
        void pump();
      };
      const delay = opts.delayMs ?? 0;
      pending.set(id, { name, key, timer: setTimeout(fire, delay) });
    },
    process(name, handler) {
      handlers.set(name, handler);
    },
    drain: () =>
      new Promise<void>((resolve) => {
        idle.push(resolve);
        settleIdle();
      }),
    async close() {
      closed = true;
      for (const p of pending.values()) clearTimeout(p.timer as Parameters<typeof clearTimeout>[0]);
      pending.clear();
      queue.length = 0;
      settleIdle();
    },
  };
}
