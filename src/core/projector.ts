import type { ProgressSource, WaitOutcome } from './consistency.js';
import { waitFor } from './consistency.js';
import { coreError } from './errors.js';
import type { EventLog } from './event-log.js';
import type { Event, RecordedEvent } from './messages.js';
import {
  type Checkpoint,
  CheckpointConflict,
  type Projection,
  type ProjectionFailure,
  type ReadStore,
  type SkippedEvent,
} from './projection.js';
import type { ProjectionActivity, ProjectionState, ProjectionStatus } from './projection-status.js';
import { rebuildCheckpointName } from './projection-status.js';
import {
  retriedCheckpoint,
  setupReadModels,
  skippedCheckpoint,
  supportsTables,
} from './read-models.js';
import { RebuildJob } from './rebuild-job.js';
import { declaredTables, dropCopies, namesOf, TableCopy, yieldToIo } from './table-copy.js';
import { generationSuffix, type TableNames } from './table-names.js';

export type {
  ProjectionActivity,
  ProjectionState,
  ProjectionStatus,
  RebuildProgress,
} from './projection-status.js';
export { rebuildCheckpointName } from './projection-status.js';

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
   * A live projection starts a batch at most once per `coalesceMs`: under a stream of commits,
   * fewer and larger transactions (each batch costs a log read, a transaction and a checkpoint
   * write, whatever its size). It adds at most `coalesceMs` to the lag, and nothing to that of
   * a write after a quiet spell longer than that (default 0: no wait).
   */
  readonly coalesceMs?: number;
  /**
   * Called after each committed batch with the events the projection applied and what its
   * `apply` returned for that batch (e.g. which products' listed figures changed): the hook for
   * work that must follow the read model, never precede it (e.g. cache invalidation).
   */
  readonly onApplied?: (
    projection: string,
    events: readonly RecordedEvent[],
    applied?: unknown,
  ) => void;
  /** Told about each failed attempt (for logs). */
  readonly onError?: (projection: string, error: unknown, attempt: number) => void;
  /**
   * Called once a blue/green switch has committed: answers cached from the old copy must go
   * (e.g. clear the projection's cache tags).
   */
  readonly onSwitched?: (projection: string) => void;
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
  /** Which copy of the tables serves; its index names carry this generation's suffix. */
  generation: number;
  skipped: SkippedEvent[];
  /** The live copy is at an older version: it serves but is not updated until the switch. */
  paused: boolean;
  /** The current (or last) blue/green rebuild. */
  job: RebuildJob<H> | undefined;
  /** The new copy has caught up: the loop switches at its next turn. */
  switchRequested: boolean;
  /** Events applied since start. */
  applied: number;
  /** The live copy is being filled from position 0: its tables are analysed once it is live. */
  filling: boolean;
  /** When the last batch was read (performance.now()), for `coalesceMs`. */
  lastReadAt: number;
}

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
        generation: 0,
        skipped: [],
        paused: false,
        job: undefined,
        switchRequested: false,
        applied: 0,
        filling: false,
        lastReadAt: Number.NEGATIVE_INFINITY,
      });
    }
  }

  /** Sets up the read models, loads checkpoints (rebuilding any whose version changed), starts. */
  async start(): Promise<void> {
    const { store, log } = this.options;
    this.tablesSupported = await supportsTables(store);
    const checkpoints = await setupReadModels(store, this.options.projections);
    for (const runner of this.runners.values()) {
      await this.restore(runner, checkpoints.get(runner.projection.name));
      if (this.blueGreen(runner.projection.name) && !runner.paused) {
        // A rebuild this process did not finish (a crash, a stop): its copy starts over next time.
        // A verify's scratch copy goes too (a verify running meanwhile in another process then
        // fails, saying so, rather than compare nothing).
        await store.transact(async (tx) => {
          await dropCopies(
            tx,
            namesOf(runner.projection as Projection<Event, unknown>, '', '').tables,
            ['g', 'old', 'v'],
          );
          await tx.tables?.deleteCheckpoint(rebuildCheckpointName(runner.projection.name));
        });
      }
    }
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
    for (const runner of this.runners.values())
      if (runner.paused) void this.startRebuild(runner).catch(() => undefined);
  }

  private tablesSupported = false;
  /** Copies being built (stop() waits for their current batch). */
  private readonly builders = new Set<Promise<void>>();

  /** True when `projection` is rebuilt blue/green here (declared tables, a store that can). */
  blueGreen(name: string): boolean {
    return this.tablesSupported && declaredTables(this.runner(name).projection).length > 0;
  }

  /** The names the live copy's SQL runs with (its index names carry its generation). */
  private liveNames(runner: Runner<H>): TableNames | undefined {
    if (runner.generation === 0) return undefined;
    const suffix = generationSuffix(runner.generation);
    return namesOf(runner.projection as Projection<Event, unknown>, '', suffix);
  }

  private async restore(runner: Runner<H>, checkpoint: Checkpoint | undefined): Promise<void> {
    const { projection } = runner;
    runner.generation = checkpoint?.generation ?? 0;
    runner.skipped = [...(checkpoint?.skipped ?? [])];
    if (
      checkpoint &&
      checkpoint.version !== projection.version &&
      this.blueGreen(projection.name)
    ) {
      // The old version keeps serving, frozen, until the new one has caught up beside it.
      runner.position = checkpoint.position;
      runner.paused = true;
      runner.state = 'rebuilding';
      return;
    }
    if (checkpoint && checkpoint.version !== projection.version) {
      if (!projection.reset) {
        throw new Error(`Projection ${projection.name} changed version but has no reset()`);
      }
      runner.position = checkpoint.position; // where the reset's checkpoint moves from
      await this.reset(runner);
      return;
    }
    runner.position = checkpoint?.position ?? 0n;
    runner.filling = runner.position === 0n;
    runner.failure = checkpoint?.failure;
    runner.state = checkpoint?.status === 'failed' ? 'failed' : 'catching_up';
  }

  /** Stops every loop after its current batch; nothing half-applied is left. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    for (const r of this.runners.values()) r.wake?.();
    await Promise.all([...this.runners.values()].map((r) => r.done));
    // A rebuild the loops did not switch in: its copy goes (the next rebuild starts over).
    await Promise.all([...this.builders]);
    for (const r of this.runners.values()) {
      const job = r.job;
      if (job?.running) {
        r.switchRequested = false;
        await this.abandon(r, job, new Error('The projector stopped before the rebuild finished'));
      }
    }
    for (const r of this.runners.values()) if (r.state !== 'failed') r.state = 'stopped';
    this.emit();
  }

  private async run(runner: Runner<H>): Promise<void> {
    const { log, store } = this.options;
    const { projection } = runner;
    const batchSize = this.options.batchSize ?? 2000;
    while (!this.stopped) {
      if (runner.switchRequested) {
        await this.switchOver(runner);
        continue;
      }
      if (runner.rebuild) {
        await this.reset(runner);
        continue;
      }
      if (runner.paused) {
        runner.woken = false;
        await this.sleepUntilWoken(runner, undefined);
        continue;
      }
      if (runner.state === 'failed') {
        runner.woken = false; // appends do not resume a failed projection; retry() or stop() do
        await this.sleepUntilWoken(runner, undefined);
        continue;
      }
      const coalesce = this.options.coalesceMs ?? 0;
      if (coalesce > 0 && runner.state === 'live') {
        // Under a stream of commits: let the next batch gather what arrives meanwhile.
        const rest = runner.lastReadAt + coalesce - performance.now();
        if (rest > 0) await this.sleepUntilWoken(runner, rest, false);
        if (this.stopped) break;
      }
      runner.woken = false;
      runner.lastReadAt = performance.now();
      const limit = runner.position < runner.carefulUntil ? 1 : batchSize;
      const read = await log.readAll({ after: runner.position, limit, types: projection.handles });
      if (read.coveredTo > this.head) this.head = read.coveredTo;
      if (read.events.length === 0 && read.coveredTo <= runner.position) {
        if (runner.state !== 'live') {
          runner.state = 'live';
          this.emit();
        }
        await this.analyzeFilled(runner);
        await this.sleepUntilWoken(runner, this.options.pollMs ?? 1000);
        continue;
      }
      try {
        const names = this.liveNames(runner);
        let applied: unknown;
        await store.transact(
          async (tx) => {
            applied = undefined; // a retried transaction reports its own attempt only
            if (read.events.length > 0) applied = await projection.apply(read.events, tx.db);
            await tx.saveCheckpoint(
              this.checkpointOf(runner, read.coveredTo, 'running'),
              runner.position,
            );
          },
          names ? { names } : {},
        );
        runner.position = read.coveredTo;
        runner.applied += read.events.length;
        runner.attempts = 0;
        if (read.events.length > 0) this.options.onApplied?.(projection.name, read.events, applied);
        // A short batch reached the head the read saw: the projection is live.
        runner.state = read.events.length < limit ? 'live' : 'catching_up';
        this.emit();
        if (runner.state === 'live') await this.analyzeFilled(runner);
      } catch (error) {
        if (error instanceof CheckpointConflict) {
          // Another projector moved the checkpoint (this one lost its lease, or two run by
          // mistake): the batch rolled back; go on from where the store says.
          await this.reload(runner);
          continue;
        }
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

  /**
   * Once a live copy filled from position 0 has caught up: the store gathers its tables'
   * planner statistics (a table filled from nothing has none, and autovacuum may be off or
   * late), as a blue/green copy's are gathered before its switch. Best effort: a failure leaves
   * the planner guessing, as before, and the projection goes on.
   */
  private async analyzeFilled(runner: Runner<H>): Promise<void> {
    if (!runner.filling) return;
    runner.filling = false;
    if (runner.applied === 0 || !this.tablesSupported) return;
    const tables = declaredTables(runner.projection).map((t) => t.name);
    try {
      await this.options.store.transact(async (tx) => tx.tables?.analyze?.(tables));
    } catch (error) {
      this.options.onError?.(runner.projection.name, error, 0);
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
    const failure = runner.failure;
    try {
      await this.options.store.transact((tx) =>
        tx.saveCheckpoint(
          { ...this.checkpointOf(runner, runner.position, 'failed'), failure },
          runner.position,
        ),
      );
    } catch (error) {
      if (!(error instanceof CheckpointConflict)) throw error;
      await this.reload(runner);
    }
    this.emit();
  }

  /** Takes the stored checkpoint as the truth, after another projector moved it. */
  private async reload(runner: Runner<H>): Promise<void> {
    const checkpoint = (await this.options.store.loadCheckpoints()).get(runner.projection.name);
    runner.attempts = 0;
    runner.carefulUntil = 0n;
    runner.failure = undefined;
    await this.restore(runner, checkpoint);
    this.emit();
  }

  /** The live checkpoint at `position` (generation and skips carried along). */
  private checkpointOf(
    runner: Runner<H>,
    position: bigint,
    status: Checkpoint['status'],
  ): Checkpoint {
    return {
      name: runner.projection.name,
      version: runner.projection.version,
      position,
      status,
      ...(runner.generation ? { generation: runner.generation } : {}),
      ...(runner.skipped.length ? { skipped: runner.skipped } : {}),
    };
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
   * Rebuilds a projection from position 0. Blue/green where it can (declared tables, a store
   * with table operations): a new copy is built beside the live one, which keeps serving and
   * being updated, then switched in one read-DB transaction; resolves once switched. Otherwise
   * in place: resolves once the reset is committed; `status()` shows it catching up.
   */
  rebuild(name: string): Promise<void> {
    const runner = this.runner(name);
    if (this.blueGreen(name)) return this.startRebuild(runner);
    if (!runner.projection.reset)
      return Promise.reject(new Error(`Projection ${name} has no reset()`));
    return new Promise((resolve) => {
      runner.rebuild = resolve;
      runner.wake?.();
    });
  }

  private startRebuild(runner: Runner<H>): Promise<void> {
    const running = runner.job;
    if (running?.running) return running.done;
    const { projection } = runner;
    const generation = runner.generation + 1;
    const suffix = generationSuffix(generation);
    const copy = new TableCopy({
      log: this.options.log,
      store: this.options.store,
      projection,
      names: namesOf(projection as Projection<Event, unknown>, suffix, suffix),
      checkpointName: rebuildCheckpointName(projection.name),
      generation,
      batchSize: this.options.batchSize ?? 2000,
      skipped: new Set(runner.skipped.map((k) => k.position)),
    });
    const job = new RebuildJob(copy);
    runner.job = job;
    this.emit();
    const builder = (async () => {
      try {
        await copy.create(['g', 'old']);
        await this.chase(copy);
        if (this.stopped) return; // stop() abandons it
        await copy.buildIndexes();
        if (this.stopped) return;
        await copy.finishBuild();
        if (this.stopped) return;
        runner.switchRequested = true;
        runner.woken = true;
        runner.wake?.();
      } catch (error) {
        await this.abandon(runner, job, error);
      }
    })();
    this.builders.add(builder);
    void builder.finally(() => this.builders.delete(builder));
    return job.done;
  }

  /**
   * Catches the copy up with the log's head, again and again while appends keep coming, until
   * the gap is at most a batch (or after a few rounds): the switch applies the rest. Chasing a
   * moving head to an empty read might never end under a steady stream of commands.
   */
  private async chase(copy: TableCopy<H>): Promise<void> {
    const stopped = () => this.stopped;
    const close = BigInt(copy.options.batchSize);
    for (let round = 0; round < 10 && !stopped(); round++) {
      const head = await this.options.log.headPosition();
      await copy.catchUp(head, stopped);
      if ((await this.options.log.headPosition()) - copy.position <= close) return;
    }
  }

  /** The switch, run by the projection's own loop (no live batch in flight): one transaction. */
  private async switchOver(runner: Runner<H>): Promise<void> {
    runner.switchRequested = false;
    const job = runner.job;
    if (!job) return;
    job.phase = 'switching';
    this.emit();
    const { projection } = runner;
    const { names, generation } = job.copy.options;
    const retired = `__old${generation}`;
    try {
      const position = await this.options.store.transact(
        async (tx) => {
          const ops = tx.tables;
          if (!ops) throw new Error('The read store lost its table operations');
          // Whatever was appended since the copy caught up goes in with the switch.
          const at = await job.copy.applyRemaining(tx);
          const existing = new Set(await ops.list());
          // A declared table this store's setup does not create (e.g. FTS bookkeeping) is skipped.
          const built = names.tables.filter((t) => existing.has(t + names.tableSuffix));
          // Queries reading the live tables wait (briefly) from here to the commit, never fail.
          await ops.lock?.(built.filter((t) => existing.has(t)));
          for (const t of built) if (existing.has(t)) await ops.rename(t, t + retired);
          for (const t of built) await ops.rename(t + names.tableSuffix, t);
          await tx.saveCheckpoint(
            {
              name: projection.name,
              version: projection.version,
              position: at,
              status: 'running',
              generation,
              ...(runner.skipped.length ? { skipped: runner.skipped } : {}),
            },
            runner.position,
          );
          await ops.deleteCheckpoint(rebuildCheckpointName(projection.name));
          return at;
        },
        { names },
      );
      runner.position = position;
      runner.generation = generation;
      runner.paused = false;
      runner.state = 'catching_up';
      runner.failure = undefined;
      runner.attempts = 0;
      runner.carefulUntil = 0n;
      job.phase = 'done';
      job.finishedAt = Date.now();
      this.options.onSwitched?.(projection.name);
      this.emit();
      // The old copy goes one table per transaction, the event loop served between them.
      for (const t of names.tables) {
        await this.options.store.transact(async (tx) => {
          await tx.tables?.drop(t + retired);
        });
        await yieldToIo();
      }
      job.resolve();
    } catch (error) {
      await this.abandon(runner, job, error);
    }
  }

  /** A rebuild that failed: the live copy serves on, the new copy's tables go. */
  private async abandon(runner: Runner<H>, job: RebuildJob<H>, error: unknown): Promise<void> {
    job.phase = 'failed';
    job.error = message(error);
    job.finishedAt = Date.now();
    this.options.onError?.(runner.projection.name, error, 0);
    try {
      await this.options.store.transact(async (tx) => {
        await dropCopies(tx, job.copy.options.names.tables, ['g']);
        await tx.tables?.deleteCheckpoint(rebuildCheckpointName(runner.projection.name));
      });
    } catch {
      // the next rebuild drops what is left
    }
    this.emit();
    job.reject(error);
  }

  private async reset(runner: Runner<H>): Promise<void> {
    const { projection } = runner;
    const names = this.liveNames(runner);
    await this.options.store.transact(
      async (tx) => {
        await projection.reset?.(tx.db);
        await tx.saveCheckpoint(this.checkpointOf(runner, 0n, 'running'), runner.position);
      },
      names ? { names } : {},
    );
    runner.position = 0n;
    runner.filling = true;
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
    const checkpoint = retriedCheckpoint(this.liveCheckpoint(runner), name);
    await this.options.store.transact((tx) => tx.saveCheckpoint(checkpoint));
    runner.state = 'catching_up';
    runner.attempts = 0;
    runner.failure = undefined;
    runner.wake?.();
    this.emit();
  }

  /**
   * Resumes a failed projection past its failing event, which must be at `position`; the skip
   * is kept with the checkpoint (shown by status), never silent.
   */
  async skip(name: string, position: bigint): Promise<SkippedEvent> {
    const runner = this.runner(name);
    const { checkpoint, skipped } = skippedCheckpoint(
      this.liveCheckpoint(runner),
      name,
      position,
      new Date(),
    );
    await this.options.store.transact((tx) => tx.saveCheckpoint(checkpoint));
    runner.skipped.push(skipped);
    runner.position = position;
    runner.state = 'catching_up';
    runner.attempts = 0;
    runner.failure = undefined;
    runner.carefulUntil = 0n;
    runner.wake?.();
    this.emit();
    return skipped;
  }

  private liveCheckpoint(runner: Runner<H>): Checkpoint {
    const status = runner.state === 'failed' ? 'failed' : 'running';
    return {
      ...this.checkpointOf(runner, runner.position, status),
      ...(runner.failure ? { failure: runner.failure } : {}),
    };
  }

  /** True when this projector runs a projection of that name. */
  has(name: string): boolean {
    return this.runners.has(name);
  }

  private runner(name: string): Runner<H> {
    const runner = this.runners.get(name);
    if (!runner) throw coreError('NOT_FOUND', `No projection named ${name} runs here.`, { name });
    return runner;
  }

  async status(): Promise<ProjectionStatus[]> {
    const head = await this.options.log.headPosition();
    if (head > this.head) this.head = head;
    return [...this.runners.values()].map((r) => {
      const rebuild = r.job?.progress(head);
      return {
        name: r.projection.name,
        version: r.projection.version,
        position: r.position,
        headPosition: head,
        lag: head > r.position ? head - r.position : 0n,
        status: r.state,
        ...(r.failure ? { failure: r.failure } : {}),
        ...(r.generation ? { generation: r.generation } : {}),
        ...(r.skipped.length ? { skipped: [...r.skipped] } : {}),
        ...(rebuild ? { rebuild } : {}),
      };
    });
  }

  /** Each projection's lag in seconds (age of its oldest unprocessed event) and events applied. */
  async activity(): Promise<ProjectionActivity[]> {
    const now = Date.now();
    const head = await this.options.log.headPosition();
    return Promise.all(
      [...this.runners.values()].map(async (r) => {
        let lagSeconds = 0;
        if (head > r.position) {
          const next = await this.options.log.readAll({
            after: r.position,
            limit: 1,
            types: r.projection.handles,
          });
          const oldest = next.events[0];
          if (oldest) lagSeconds = Math.max(0, (now - oldest.recordedAt.getTime()) / 1000);
        }
        return { name: r.projection.name, lagSeconds, eventsApplied: r.applied };
      }),
    );
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
