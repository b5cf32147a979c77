import type { ProgressSource, WaitOutcome } from './consistency.js';
import { waitFor } from './consistency.js';
import type { EventLog } from './event-log.js';
import type { Event, RecordedEvent } from './messages.js';
import type { Checkpoint, Projection, ProjectionFailure, ReadStore } from './projection.js';

export type ProjectionState = 'starting' | 'catching_up' | 'live' | 'failed' | 'stopped';

export interface ProjectionStatus {
  readonly name: string;
  readonly version: number;
  readonly position: bigint;
  readonly headPosition: bigint;
  readonly lag: bigint;
  readonly status: ProjectionState;
  readonly failure?: ProjectionFailure;
}

export interface ProjectorOptions<H> {
  readonly log: EventLog;
  readonly store: ReadStore<H>;
  readonly projections: readonly Projection<Event, H>[];
  /** Events read and applied per transaction (default 2000). */
  readonly batchSize?: number;
  /** Attempts on a failing event before the projection stops as failed (default 5). */
  readonly attempts?: number;
  /** First back-off in ms, doubled per attempt (default 50, at most 5 s). */
  readonly baseDelayMs?: number;
  /**
   * Safety-net poll in ms for appends the log cannot signal (another process writing the same
   * SQLite file). In-process appends wake the projector at once (default 1000).
   */
  readonly pollMs?: number;
  /**
   * Called after each committed batch with the events the projection applied: the hook for
   * work that must follow the read model, never precede it (e.g. cache invalidation).
   */
  readonly onApplied?: (projection: string, events: readonly RecordedEvent[]) => void;
  /** Told about each failed attempt (for logs). */
  readonly onError?: (projection: string, error: unknown, attempt: number) => void;
}

interface Runner<H> {
  readonly projection: Projection<Event, H>;
  position: bigint;
  state: ProjectionState;
  attempts: number;
  /** After a failing batch: one event per transaction up to this position, to isolate the bad one. */
  carefulUntil: bigint;
  failure: ProjectionFailure | undefined;
  /** Set by `rebuild`: the loop resets the read model and starts again from position 0. */
  rebuild: (() => void) | undefined;
  wake: (() => void) | undefined;
  /** An append (or a request) arrived since the loop last read the log: do not go to sleep. */
  woken: boolean;
  done: Promise<void> | undefined;
}

const yieldToIo = () =>
  new Promise<void>((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Runs projections: each catches up from its checkpoint, then follows the log live, woken by
 * every append. Each batch and its checkpoint commit in one read-DB transaction, so a crash
 * between batches neither loses nor repeats an event. A failing event is retried with back-off,
 * then its projection stops as `failed` (position, event and error recorded) while the others go on.
 */
export class Projector<H> implements ProgressSource {
  private readonly runners = new Map<string, Runner<H>>();
  private readonly listeners = new Set<() => void>();
  private unsubscribe: (() => void) | undefined;
  private stopped = true;
  private head = 0n;

  constructor(private readonly options: ProjectorOptions<H>) {
    for (const projection of options.projections) {
      if (this.runners.has(projection.name))
        throw new Error(`Duplicate projection ${projection.name}`);
      this.runners.set(projection.name, {
        projection,
        position: 0n,
        state: 'starting',
        attempts: 0,
        carefulUntil: 0n,
        failure: undefined,
        rebuild: undefined,
        wake: undefined,
        woken: false,
        done: undefined,
      });
    }
  }

  /** Sets up the read models, loads checkpoints (rebuilding any whose version changed), starts. */
  async start(): Promise<void> {
    const { store, log } = this.options;
    await store.setup(this.options.projections);
    const checkpoints = await store.loadCheckpoints();
    for (const runner of this.runners.values())
      await this.restore(runner, checkpoints.get(runner.projection.name));
    this.head = await log.headPosition();
    this.stopped = false;
    this.unsubscribe = log.onAppended((head) => {
      if (head > this.head) this.head = head;
      for (const r of this.runners.values()) {
        r.woken = true;
        r.wake?.();
      }
    });
    for (const runner of this.runners.values()) runner.done = this.run(runner);
  }

  private async restore(runner: Runner<H>, checkpoint: Checkpoint | undefined): Promise<void> {
    const { projection } = runner;
    if (checkpoint && checkpoint.version !== projection.version) {
      if (!projection.reset) {
        throw new Error(`Projection ${projection.name} changed version but has no reset()`);
      }
      await this.reset(runner);
      return;
    }
    runner.position = checkpoint?.position ?? 0n;
    runner.failure = checkpoint?.failure;
    runner.state = checkpoint?.status === 'failed' ? 'failed' : 'catching_up';
  }

  /** Stops every loop after its current batch; nothing half-applied is left. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    for (const r of this.runners.values()) r.wake?.();
    await Promise.all([...this.runners.values()].map((r) => r.done));
    for (const r of this.runners.values()) if (r.state !== 'failed') r.state = 'stopped';
    this.emit();
  }

  private async run(runner: Runner<H>): Promise<void> {
    const { log, store } = this.options;
    const { projection } = runner;
    const batchSize = this.options.batchSize ?? 2000;
    while (!this.stopped) {
      if (runner.rebuild) {
        await this.reset(runner);
        continue;
      }
      if (runner.state === 'failed') {
        runner.woken = false; // appends do not resume a failed projection; retry() or stop() do
        await this.sleepUntilWoken(runner, undefined);
        continue;
      }
      runner.woken = false;
      const limit = runner.position < runner.carefulUntil ? 1 : batchSize;
      const read = await log.readAll({ after: runner.position, limit, types: projection.handles });
      if (read.coveredTo > this.head) this.head = read.coveredTo;
      if (read.events.length === 0 && read.coveredTo <= runner.position) {
        if (runner.state !== 'live') {
          runner.state = 'live';
          this.emit();
        }
        await this.sleepUntilWoken(runner, this.options.pollMs ?? 1000);
        continue;
      }
      try {
        await store.transact(async (tx) => {
          if (read.events.length > 0) await projection.apply(read.events, tx.db);
          await tx.saveCheckpoint({
            name: projection.name,
            version: projection.version,
            position: read.coveredTo,
            status: 'running',
          });
        });
        runner.position = read.coveredTo;
        runner.attempts = 0;
        if (read.events.length > 0) this.options.onApplied?.(projection.name, read.events);
        // A short batch reached the head the read saw: the projection is live.
        runner.state = read.events.length < limit ? 'live' : 'catching_up';
        this.emit();
      } catch (error) {
        const last = read.events.at(-1);
        if (read.events.length > 1 && last) {
          runner.carefulUntil = last.position; // the events before the failing one still commit
          continue;
        }
        await this.onFailure(runner, read.events[0], error);
      }
      await yieldToIo();
    }
  }

  private async onFailure(
    runner: Runner<H>,
    event: Event | undefined,
    error: unknown,
  ): Promise<void> {
    runner.attempts++;
    this.options.onError?.(runner.projection.name, error, runner.attempts);
    const maxAttempts = this.options.attempts ?? 5;
    if (runner.attempts < maxAttempts) {
      const delay = Math.min(5000, (this.options.baseDelayMs ?? 50) * 2 ** (runner.attempts - 1));
      await this.sleepUntilWoken(runner, delay, false);
      return;
    }
    const recorded = event as (Event & { position?: bigint; id?: string }) | undefined;
    runner.failure = {
      position: recorded?.position ?? runner.position,
      eventId: recorded?.id ?? '',
      eventType: recorded?.type ?? '',
      error: message(error),
      attempts: runner.attempts,
      at: new Date(),
    };
    runner.state = 'failed';
    const { projection } = runner;
    const failure = runner.failure;
    await this.options.store.transact((tx) =>
      tx.saveCheckpoint({
        name: projection.name,
        version: projection.version,
        position: runner.position,
        status: 'failed',
        failure,
      }),
    );
    this.emit();
  }

  /** Waits for a wake-up (an append, stop, retry) or `ms`; `wakeable: false` waits out `ms`. */
  private sleepUntilWoken(
    runner: Runner<H>,
    ms: number | undefined,
    wakeable = true,
  ): Promise<void> {
    if (wakeable && (runner.woken || this.stopped)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      function done() {
        if (timer) clearTimeout(timer);
        runner.wake = undefined;
        resolve();
      }
      runner.wake = wakeable ? done : () => (this.stopped ? done() : undefined);
    });
  }

  /**
   * Rebuilds a projection in place from position 0 (empties its read model, then replays the
   * log). Resolves once the reset is committed; `status()` shows it catching up.
   */
  rebuild(name: string): Promise<void> {
    const runner = this.runner(name);
    if (!runner.projection.reset)
      return Promise.reject(new Error(`Projection ${name} has no reset()`));
    return new Promise((resolve) => {
      runner.rebuild = resolve;
      runner.wake?.();
    });
  }

  private async reset(runner: Runner<H>): Promise<void> {
    const { projection } = runner;
    await this.options.store.transact(async (tx) => {
      await projection.reset?.(tx.db);
      await tx.saveCheckpoint({
        name: projection.name,
        version: projection.version,
        position: 0n,
        status: 'running',
      });
    });
    runner.position = 0n;
    runner.state = 'catching_up';
    runner.failure = undefined;
    runner.attempts = 0;
    runner.carefulUntil = 0n;
    const done = runner.rebuild;
    runner.rebuild = undefined;
    done?.();
    this.emit();
  }

  /** Resumes a failed projection: its failing event gets a fresh set of attempts. */
  async retry(name: string): Promise<void> {
    const runner = this.runner(name);
    if (runner.state !== 'failed') return;
    runner.state = 'catching_up';
    runner.attempts = 0;
    runner.failure = undefined;
    runner.wake?.();
    this.emit();
  }

  private runner(name: string): Runner<H> {
    const runner = this.runners.get(name);
    if (!runner) throw new Error(`Unknown projection ${name}`);
    return runner;
  }

  async status(): Promise<ProjectionStatus[]> {
    const head = await this.options.log.headPosition();
    if (head > this.head) this.head = head;
    return [...this.runners.values()].map((r) => ({
      name: r.projection.name,
      version: r.projection.version,
      position: r.position,
      headPosition: head,
      lag: head > r.position ? head - r.position : 0n,
      status: r.state,
      ...(r.failure ? { failure: r.failure } : {}),
    }));
  }

  /** Resolves when the named projections (default: all) have processed everything appended so far. */
  async catchUp(timeoutMs = 10_000, names?: readonly string[]): Promise<WaitOutcome> {
    const head = await this.options.log.headPosition();
    return waitFor(this, head, names ?? [...this.runners.keys()], timeoutMs);
  }

  /** Read-your-writes for this process's projections; see `waitFor`. */
  waitFor(
    position: bigint,
    projections: readonly string[],
    timeoutMs: number,
  ): Promise<WaitOutcome> {
    return waitFor(this, position, projections, timeoutMs);
  }

  positionOf(projection: string): bigint | undefined {
    return this.runners.get(projection)?.position;
  }

  isFailed(projection: string): boolean {
    return this.runners.get(projection)?.state === 'failed';
  }

  onProgress(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

/** Creates a projector; call `start()` to run it. */
export const projector = <H>(options: ProjectorOptions<H>): Projector<H> => new Projector(options);
