import { type ConnectionOptions, Queue, Worker } from 'bullmq';
import type { JobHandler, JobOptions, JobQueue } from '../../core/jobs.js';

export interface BullmqJobsOptions extends JobOptions {
  /** Redis URL, e.g. redis://127.0.0.1:6379. */
  readonly url: string;
  /** Prefix of every BullMQ key (one per deployment or test run). */
  readonly prefix: string;
  /** Jobs run at once per name in this process (default 1). */
  readonly concurrency?: number;
}

const connectionOf = (url: string): ConnectionOptions => {
  const u = new URL(url);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    // BullMQ's workers block on Redis: they must never give up a command while Redis restarts.
    maxRetriesPerRequest: null,
  };
};

/**
 * Jobs on Redis (BullMQ), shared by every process: any worker process may run a job, a job
 * survives a crash of the process that queued it, and one key has at most one job waiting
 * (BullMQ deduplication with `keepLastIfActive`: a key added while its job runs runs once more
 * afterwards, so a recomputation never misses the change that triggered it).
 */
export function bullmqJobs(options: BullmqJobsOptions): JobQueue {
  const connection = connectionOf(options.url);
  const queues = new Map<string, Queue>();
  const workers: Worker[] = [];
  const queueOf = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix: options.prefix });
      // A lost connection is retried; `add` rejects meanwhile. Unheard, the event would crash.
      q.on('error', () => {});
      queues.set(name, q);
    }
    return q;
  };

  return {
    async add(name, key, opts = {}) {
      await queueOf(name).add(
        name,
        { key },
        {
          delay: opts.delayMs ?? 0,
          attempts: options.attempts ?? 5,
          backoff: { type: 'exponential', delay: options.backoffMs ?? 100 },
          deduplication: { id: `${name}:${key}`, keepLastIfActive: true },
          removeOnComplete: true,
          removeOnFail: 1000,
        },
      );
    },
    process(name: string, handler: JobHandler) {
      const worker = new Worker<{ key: string }>(name, (job) => handler(job.data.key), {
        connection,
        prefix: options.prefix,
        concurrency: options.concurrency ?? 1,
      });
      worker.on('failed', (job, error) => {
        if (job && job.attemptsMade >= (job.opts.attempts ?? 1))
          options.onFailed?.(name, job.data.key, error);
      });
      // Errors of the connection itself are retried by BullMQ; without a listener they would crash.
      worker.on('error', () => {});
      workers.push(worker);
    },
    async drain() {
      for (;;) {
        let busy = 0;
        for (const q of queues.values()) {
          const c = await q.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
          busy += Object.values(c).reduce((a, b) => a + b, 0);
        }
        if (busy === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
