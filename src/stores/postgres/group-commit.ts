import type pg from 'pg';
import { ConcurrencyConflict } from '../../core/errors.js';
import type { TransactOptions, TransactOutcome } from '../../core/write-store.js';
import { appendMany, appendOne, type PendingAppend } from './appends.js';
import { type BatchJob, runBatched } from './batch.js';
import { type Job, maxPosition, runJob, type Settled, settledAppend } from './job.js';
import { Prelude } from './prelude.js';
import { isConnectionError, type Writer } from './writer.js';

export interface GroupCommitOptions {
  /** Most transactions that may share one commit. */
  readonly maxGroup: number;
  readonly clock: () => Date;
  /** Told the new head after each commit that recorded events, before its callers are answered. */
  readonly committed: (head: bigint) => void;
}

/**
 * The store's write queue. One connection writes: concurrent transactions share one PostgreSQL
 * transaction (group commit; each caller's work in its own savepoint, each caller answered after
 * the shared COMMIT); a lone append is one statement in autocommit.
 */
export class GroupCommit {
  private readonly queue: Job[] = [];
  private draining = false;
  /** Groups to run the careful way before the batched fast path is tried again. */
  private batchPause = 0;

  constructor(
    private readonly writer: Writer,
    private readonly options: GroupCommitOptions,
  ) {}

  /** True while jobs are queued or running. */
  get busy(): boolean {
    return this.draining || this.queue.length > 0;
  }

  enqueue(
    fn: Job['fn'],
    append: PendingAppend,
    options: TransactOptions,
  ): Promise<TransactOutcome<unknown>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ fn, append, options, resolve, reject });
      if (!this.draining) {
        // After the current turn of the event loop: callers woken together (e.g. by one batched
        // stream read) reach here several promise hops apart, and all of them join this group.
        this.draining = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Commits queued transactions in groups until the queue is empty. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const first = this.queue[0]!;
        const group = first.alone ? this.queue.splice(0, 1) : this.takeGroup();
        await this.runGroup(group);
      }
    } finally {
      this.draining = false;
      if (this.queue.length > 0) {
        this.draining = true;
        queueMicrotask(() => void this.drain());
      }
    }
  }

  private takeGroup(): Job[] {
    const group: Job[] = [];
    while (group.length < this.options.maxGroup && this.queue.length > 0 && !this.queue[0]!.alone)
      group.push(this.queue.shift()!);
    return group;
  }

  /** Runs one group in one transaction and settles its jobs. */
  private async runGroup(group: Job[]): Promise<void> {
    const appends = group.filter((j) => j.fn === undefined);
    const fns = group.filter((j) => j.fn !== undefined);
    if (fns.length === 0) return this.runAppends(appends);
    if (fns.length > 1 && appends.length === 0 && !fns.some((j) => j.options.idempotency)) {
      if (this.batchPause > 0) this.batchPause--;
      else if (await this.runBatch(fns)) return;
      // The batched attempt was given up: try it again only after a few careful groups.
      else this.batchPause = 8;
    }
    const shared = group.length > 1;
    const settled: Settled[] = [];
    let head: bigint | undefined;
    let prelude: Prelude | undefined;
    try {
      const w = await this.writer.connect();
      prelude = new Prelude(w, shared);
      // Plain appends first, all in one statement: a conflict writes nothing and raises nothing,
      // so they need no savepoint.
      if (appends.length > 0) {
        await prelude.begin();
        const results = await appendMany(
          w,
          appends.map((j) => j.append),
          this.options.clock(),
        );
        for (const [i, r] of results.entries()) {
          settled.push(settledAppend(appends[i]!, r));
          if (!(r instanceof Error) && appends[i]!.append.events.length > 0) head = r.lastPosition;
        }
      }
      for (const job of fns) {
        // Savepoints nest (no RELEASE: one round trip less); COMMIT keeps every one not rolled back.
        prelude.nextJob();
        try {
          const { outcome, last } = await runJob(w, prelude, job, this.options.clock);
          if (last !== undefined) head = last;
          settled.push({ job, ok: true, value: outcome });
        } catch (error) {
          if (prelude.savepointTaken) await w.query('ROLLBACK TO SAVEPOINT job');
          else if (!shared || prelude.statements > 0) throw error;
          settled.push({ job, ok: false, value: error });
        }
      }
      if (prelude.inTransaction) await w.query('COMMIT');
    } catch (error) {
      if (prelude?.inTransaction !== false) await this.writer.rollback(error);
      this.failed(group, error);
      return;
    }
    this.settle(settled, head);
  }

  /**
   * Group commit's fast path (see `runBatched`): true when the group committed and its jobs
   * are settled; false when it must run again the careful way (nothing was kept).
   */
  private async runBatch(jobs: Job[]): Promise<boolean> {
    let w: pg.PoolClient;
    let begun = false;
    try {
      w = await this.writer.connect();
      const outcomes = await runBatched(w, jobs as (Job & BatchJob)[], async (appends) => {
        await w.query('BEGIN');
        begun = true;
        return appendMany(w, appends, this.options.clock());
      });
      if (!outcomes) {
        if (begun) await w.query('ROLLBACK');
        return false;
      }
      let head: bigint | undefined;
      let seen: bigint | undefined;
      const settled: Settled[] = [];
      for (const [i, o] of outcomes.entries()) {
        const job = jobs[i]!;
        if (!o.ok) {
          settled.push({ job, ok: false, value: o.error });
          continue;
        }
        if (o.last !== undefined && (head === undefined || o.last > head)) head = o.last;
        // Recorded nothing: the head it saw.
        if (o.last === undefined) seen ??= await maxPosition(w);
        const position = o.last ?? seen!;
        settled.push({ job, ok: true, value: { replayed: false, value: o.value, position } });
      }
      if (begun) await w.query('COMMIT');
      this.settle(settled, head);
      return true;
    } catch (error) {
      if (begun) await this.writer.rollback(error);
      if (isConnectionError(error)) {
        for (const job of jobs) job.reject(error);
        return true;
      }
      return false;
    }
  }

  /** Plain appends only: one statement in autocommit, one round trip for the whole group. */
  private async runAppends(group: Job[]): Promise<void> {
    try {
      const w = await this.writer.connect();
      const results =
        group.length === 1
          ? [
              await appendOne(w, group[0]!.append, undefined, this.options.clock()).catch(
                conflictOnly,
              ),
            ]
          : await appendMany(
              w,
              group.map((j) => j.append),
              this.options.clock(),
            );
      let head: bigint | undefined;
      for (const [i, r] of results.entries())
        if (!(r instanceof Error) && group[i]!.append.events.length > 0) head = r.lastPosition;
      this.settle(
        group.map((job, i) => settledAppend(job, results[i]!)),
        head,
      );
    } catch (error) {
      this.writer.recover(error);
      this.failed(group, error);
    }
  }

  /** Signals the new head (before answering, so a caller finds its listeners told), then answers. */
  private settle(settled: readonly Settled[], head: bigint | undefined): void {
    if (head !== undefined) this.options.committed(head);
    for (const s of settled) {
      if (s.ok) s.job.resolve(s.value as TransactOutcome<unknown>);
      else s.job.reject(s.value);
    }
  }

  /** A transaction failed as a whole. */
  private failed(group: Job[], error: unknown): void {
    if (group.length > 1 && !isConnectionError(error)) {
      // Something outside any one job failed (e.g. a deadlock with another process): run each
      // job again alone, so that one job's trouble stays its own.
      for (const job of group) job.alone = true;
      this.queue.unshift(...group);
      return;
    }
    // Alone, or the connection broke (a COMMIT's outcome is then unknown: never re-run).
    for (const job of group) job.reject(error);
  }
}

const conflictOnly = (error: unknown): ConcurrencyConflict => {
  if (error instanceof ConcurrencyConflict) return error;
  throw error;
};
