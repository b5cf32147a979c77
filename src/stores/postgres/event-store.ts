import pg from 'pg';
import { ConcurrencyConflict, coreError } from '../../core/errors.js';
import {
  type AppendOptions,
  type AppendResult,
  type EventLog,
  type ExpectedVersion,
  eventMetadata,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type ReadStreamResult,
} from '../../core/event-log.js';
import { encodeJson } from '../../core/json.js';
import type { Event, MessageMetadata, RecordedEvent } from '../../core/messages.js';
import type {
  IdempotencyRecord,
  TransactOptions,
  TransactOutcome,
  WriteStore,
  WriteTx,
} from '../../core/write-store.js';
import { type BatchJob, runBatched } from './batch.js';
import { HeadWatcher } from './head-watcher.js';
import { migrate } from './migrate.js';
import { Prelude, textArray } from './prelude.js';
import { type EventRow, toEvent } from './rows.js';
import { eventLogMigrations } from './schema.js';
import { StreamReader } from './stream-reader.js';

// int8 columns come back as decimal strings; positions and versions become bigints here.
const toBig = (v: string | null): bigint => (v === null ? 0n : BigInt(v));

export interface PostgresEventStoreOptions {
  readonly connectionString: string;
  /** Connections for readers and the writer (default 10; at least 2). */
  readonly poolSize?: number;
  /** Most transactions that may share one commit (default 64: PostgreSQL keeps 64 subtransactions per backend cheaply). */
  readonly maxGroup?: number;
  readonly clock?: () => Date;
}

const expectedCode = (e: ExpectedVersion | undefined): string => {
  if (e === undefined || e === 'any') return '-1';
  if (e === 'no_stream') return '-2';
  if (e === 'stream_exists') return '-3';
  return e.toString();
};

const APPEND = 'SELECT tworooms_append($1, $2, $3, $4, $5, $6) AS r';
const APPEND_MANY = 'SELECT tworooms_append_many($1, $2, $3, $4, $5, $6, $7) AS r';
const STREAM = `SELECT v.version, e.position, e.id, e.stream_id, e.stream_version, e.type, e.data, e.metadata, e.recorded_at
  FROM (SELECT coalesce(max(stream_version), 0) AS version FROM events WHERE stream_id = $1) v
  LEFT JOIN LATERAL (SELECT * FROM events WHERE stream_id = $1 AND stream_version >= $2
                     ORDER BY stream_version LIMIT $3) e ON true`;

type PgClient = pg.ClientBase;

interface Job {
  /** Absent for a plain `append`, which runs as one statement and needs no savepoint. */
  readonly fn: ((tx: WriteTx<pg.PoolClient>) => unknown) | undefined;
  readonly append: { streamId: string; events: readonly Event[]; options: AppendOptions };
  readonly options: TransactOptions;
  readonly resolve: (o: TransactOutcome<unknown>) => void;
  readonly reject: (e: unknown) => void;
  /** Set when the job must run alone (after its shared transaction failed for another reason). */
  alone?: boolean;
}

interface Settled {
  readonly job: Job;
  readonly ok: boolean;
  readonly value: unknown;
}

const NO_APPEND: Job['append'] = { streamId: '', events: [], options: {} };

/**
 * Event log and write DB on PostgreSQL. One connection writes: concurrent transactions share
 * one PostgreSQL transaction (group commit; each caller's work in its own savepoint, each caller
 * answered after the shared COMMIT); a lone append is one statement in autocommit. Readers only
 * see the log up to the horizon below which no transaction can still commit an event (see
 * docs/architecture.md, "PostgreSQL event log"), so they never skip one.
 * @example
 *   const store = await PostgresEventStore.open({ connectionString: 'postgres://127.0.0.1/shop' });
 */
export class PostgresEventStore implements EventLog, WriteStore<pg.PoolClient> {
  readonly log: EventLog = this;
  private readonly queue: Job[] = [];
  private draining = false;
  private closed = false;
  private readonly maxGroup: number;
  /** Groups to run the careful way before the batched fast path is tried again. */
  private batchPause = 0;
  private readonly clock: () => Date;
  private readonly heads: HeadWatcher;
  private readonly streams: StreamReader;

  private constructor(
    /** Readers and anything else that needs a connection to the write DB. */
    readonly pool: pg.Pool,
    private writer: pg.PoolClient | undefined,
    options: PostgresEventStoreOptions,
  ) {
    this.maxGroup = options.maxGroup ?? 64;
    this.clock = options.clock ?? (() => new Date());
    this.streams = new StreamReader(pool);
    this.heads = new HeadWatcher({
      connectionString: options.connectionString,
      horizon: () => this.horizon(),
      // node-postgres keeps the backend pid of each connection (untyped in @types/pg).
      ownPid: () => (this.writer as { processID?: number } | undefined)?.processID,
    });
  }

  /** Connects, creates the log's tables if needed and returns the store. */
  static async open(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: Math.max(2, options.poolSize ?? 10),
    });
    // An idle client that loses its server must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    try {
      await migrate(pool, eventLogMigrations);
      const writer = await pool.connect();
      return new PostgresEventStore(pool, writer, options);
    } catch (error) {
      await pool.end();
      throw error;
    }
  }

  append(
    streamId: string,
    events: readonly Event[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    return this.enqueue(undefined, { streamId, events, options }, {}).then((o) => {
      if (o.replayed) throw new Error('unreachable: append takes no idempotency key');
      return o.value as AppendResult;
    });
  }

  transact<T>(
    fn: (tx: WriteTx<pg.PoolClient>) => Promise<T> | T,
    options: TransactOptions = {},
  ): Promise<TransactOutcome<T>> {
    return this.enqueue(fn, NO_APPEND, options) as Promise<TransactOutcome<T>>;
  }

  private enqueue(
    fn: Job['fn'],
    append: Job['append'],
    options: TransactOptions,
  ): Promise<TransactOutcome<unknown>> {
    if (this.closed) return Promise.reject(new Error('The event store is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ fn, append, options, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        queueMicrotask(() => void this.drain());
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
    while (group.length < this.maxGroup && this.queue.length > 0 && !this.queue[0]!.alone)
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
      const w = await this.connectWriter();
      prelude = new Prelude(w, shared);
      // Plain appends first, all in one statement: a conflict writes nothing and raises nothing,
      // so they need no savepoint.
      if (appends.length > 0) {
        await prelude.begin();
        const results = await this.appendMany(
          w,
          appends.map((j) => j.append),
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
          const { outcome, last } = await this.runJob(w, prelude, job);
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
      if (prelude?.inTransaction !== false) await this.rollback(error);
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
      w = await this.connectWriter();
      const outcomes = await runBatched(w, jobs as (Job & BatchJob)[], async (appends) => {
        await w.query('BEGIN');
        begun = true;
        return this.appendMany(w, appends);
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
        let position = o.last;
        if (position === undefined) {
          // Recorded nothing: the head it saw.
          seen ??= toBig(
            (await w.query<{ p: string | null }>('SELECT max(position) AS p FROM events')).rows[0]!
              .p,
          );
          position = seen;
        }
        settled.push({ job, ok: true, value: { replayed: false, value: o.value, position } });
      }
      if (begun) await w.query('COMMIT');
      this.settle(settled, head);
      return true;
    } catch (error) {
      if (begun) await this.rollback(error);
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
      const w = await this.connectWriter();
      const results =
        group.length === 1
          ? [await this.appendWith(w, group[0]!.append, undefined).catch(conflictOnly)]
          : await this.appendMany(
              w,
              group.map((j) => j.append),
            );
      let head: bigint | undefined;
      for (const [i, r] of results.entries())
        if (!(r instanceof Error) && group[i]!.append.events.length > 0) head = r.lastPosition;
      this.settle(
        group.map((job, i) => settledAppend(job, results[i]!)),
        head,
      );
    } catch (error) {
      await this.recoverWriter(error);
      this.failed(group, error);
    }
  }

  /** Signals the new head (before answering, so a caller finds its listeners told), then answers. */
  private settle(settled: readonly Settled[], head: bigint | undefined): void {
    if (head !== undefined) this.heads.committed(head);
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

  private async rollback(cause: unknown): Promise<void> {
    if (isConnectionError(cause)) return this.recoverWriter(cause);
    try {
      await this.writer?.query('ROLLBACK');
    } catch (error) {
      await this.recoverWriter(error);
    }
  }

  /** The writer connection (a new one after the last broke). */
  private async connectWriter(): Promise<pg.PoolClient> {
    this.writer ??= await this.pool.connect();
    return this.writer;
  }

  /** Drops the writer connection when it broke; the next transaction opens another. */
  private async recoverWriter(error: unknown): Promise<void> {
    if (!isConnectionError(error) || !this.writer) return;
    this.writer.release(true);
    this.writer = undefined;
  }

  private async runJob(
    w: pg.PoolClient,
    prelude: Prelude,
    job: Job,
  ): Promise<{ outcome: TransactOutcome<unknown>; last: bigint | undefined }> {
    const { options } = job;
    const fn = job.fn!;
    const key = options.idempotency;
    if (key) {
      const found = await prelude.run<{ fingerprint: string; result: string }>(
        {
          name: 'tworooms_claim_key',
          text: 'SELECT * FROM tworooms_claim_key($1)',
          values: [key.key],
        },
        () => `SELECT * FROM tworooms_claim_key(${w.escapeLiteral(key.key)})`,
      );
      const existing = found.rows[0];
      if (existing) {
        if (existing.fingerprint !== key.fingerprint) throw coreError('IDEMPOTENCY_KEY_REUSED');
        return { outcome: { replayed: true, result: existing.result }, last: undefined };
      }
    }
    let last: bigint | undefined;
    const db = prelude.handle(w);
    const tx: WriteTx<pg.PoolClient> = {
      db,
      record: async (streamId, events, appendOptions = {}) => {
        const append = { streamId, events, options: appendOptions };
        const r = await this.appendWith(w, append, options.metadata, prelude);
        if (events.length > 0) last = r.lastPosition;
        return r;
      },
      readStream: (streamId, readOptions) => readStreamWith(db, streamId, readOptions),
    };
    const value = await fn(tx);
    const position =
      last ??
      toBig(
        (await db.query<{ p: string | null }>('SELECT max(position) AS p FROM events')).rows[0]!.p,
      );
    if (key) {
      await db.query(
        'INSERT INTO idempotency_keys (key, fingerprint, result) VALUES ($1, $2, $3)',
        [key.key, key.fingerprint, encodeJson({ value, position })],
      );
    }
    return { outcome: { replayed: false, value, position }, last };
  }

  /** Runs plain appends in one statement; a conflict comes back as its error. */
  private async appendMany(
    client: PgClient,
    appends: readonly Job['append'][],
  ): Promise<Array<AppendResult | ConcurrencyConflict>> {
    const streams: string[] = [];
    const expected: string[] = [];
    const counts: number[] = [];
    const types: string[] = [];
    const data: string[] = [];
    const metadata: string[] = [];
    for (const append of appends) {
      streams.push(append.streamId);
      expected.push(expectedCode(append.options.expectedVersion));
      counts.push(append.events.length);
      for (const e of append.events) {
        types.push(e.type);
        data.push(JSON.stringify(e.data));
        metadata.push(JSON.stringify(eventMetadata(e, append.options.metadata)));
      }
    }
    const res = await client.query<{ r: string[] }>({
      name: 'tworooms_append_many',
      text: APPEND_MANY,
      values: [streams, expected, counts, types, data, metadata, this.clock()],
    });
    const flat = res.rows[0]!.r.map(BigInt);
    return appends.map((append, i) =>
      toAppendResult(append, flat[3 * i]!, flat[3 * i + 1]!, flat[3 * i + 2]!),
    );
  }

  /** One append: through `prelude` inside a transaction, else in autocommit on `client`. */
  private async appendWith(
    client: PgClient,
    append: Job['append'],
    txMetadata: MessageMetadata | undefined,
    prelude?: Prelude,
  ): Promise<AppendResult> {
    const { streamId, events, options } = append;
    const shared =
      txMetadata && options.metadata
        ? { ...txMetadata, ...options.metadata }
        : (options.metadata ?? txMetadata);
    const expected = expectedCode(options.expectedVersion);
    const types = events.map((e) => e.type);
    const data = events.map((e) => JSON.stringify(e.data));
    const metadata = events.map((e) => JSON.stringify(eventMetadata(e, shared)));
    const at = this.clock();
    const prepared = {
      name: 'tworooms_append',
      text: APPEND,
      values: [streamId, expected, types, data, metadata, at],
    };
    const literal = () =>
      `SELECT tworooms_append(${client.escapeLiteral(streamId)}, ${expected}, ${textArray(client, types)}, ` +
      `${textArray(client, data)}, ${textArray(client, metadata)}, ` +
      `${client.escapeLiteral(at.toISOString())}::timestamptz) AS r`;
    const res = prelude
      ? await prelude.run<{ r: string[] }>(prepared, literal)
      : await client.query<{ r: string[] }>(prepared);
    const [version, first, last] = res.rows[0]!.r.map(BigInt) as [bigint, bigint, bigint];
    const r = toAppendResult(append, version, first, last);
    if (r instanceof ConcurrencyConflict) throw r;
    return r;
  }

  readStream<E extends Event = Event>(
    streamId: string,
    options?: ReadStreamOptions,
  ): Promise<ReadStreamResult<E>> {
    if ((options?.fromVersion ?? 1n) <= 1n && options?.maxCount === undefined)
      return this.streams.read<E>(streamId);
    return readStreamWith<E>(this.pool, streamId, options);
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllResult> {
    const { rows } = await this.pool.query<EventRow & Record<'head' | 'horizon' | 'last', string>>({
      name: 'tworooms_read_all',
      text: 'SELECT head, horizon, last, pos AS position, id, stream_id, stream_version, type, data, metadata, recorded_at FROM tworooms_read_all($1, $2, $3)',
      values: [options.after.toString(), options.limit, options.types ?? null],
    });
    const header = rows[0]!;
    const head = BigInt(header.head);
    this.heads.observed(BigInt(header.horizon), BigInt(header.last));
    const events = rows.slice(1).map(toEvent);
    const last = events.at(-1)?.position;
    // A short page read everything committed up to the head (the horizon's last event).
    const coveredTo = events.length === options.limit && last !== undefined ? last : head;
    return { events, coveredTo: coveredTo > options.after ? coveredTo : options.after };
  }

  /** The last position every reader can see: nothing at or below it can still appear. */
  async headPosition(): Promise<bigint> {
    return (await this.horizon()).head;
  }

  private async horizon(): Promise<{ head: bigint; horizon: bigint; last: bigint }> {
    const { rows } = await this.pool.query<{ h: string[] }>({
      name: 'tworooms_horizon',
      text: 'SELECT tworooms_horizon() AS h',
    });
    const [head, horizon, last] = rows[0]!.h.map(BigInt) as [bigint, bigint, bigint];
    this.heads.observed(horizon, last);
    return { head, horizon, last };
  }

  onAppended(listener: (head: bigint) => void): () => void {
    return this.heads.add(listener);
  }

  async findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    const { rows } = await this.pool.query<IdempotencyRecord>(
      'SELECT key, fingerprint, result FROM idempotency_keys WHERE key = $1',
      [key],
    );
    return rows[0];
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.draining || this.queue.length > 0)
      await new Promise<void>((resolve) => setImmediate(resolve));
    await this.heads.close();
    this.writer?.release();
    await this.pool.end();
  }
}

/** The function's {version, first, last}: a result, or the conflict it reports (first = -1). */
function toAppendResult(
  append: Job['append'],
  version: bigint,
  first: bigint,
  last: bigint,
): AppendResult | ConcurrencyConflict {
  if (first !== -1n) return { streamVersion: version, firstPosition: first, lastPosition: last };
  const e = append.options.expectedVersion;
  return new ConcurrencyConflict(append.streamId, e === undefined ? 'any' : e.toString(), version);
}

const conflictOnly = (error: unknown): ConcurrencyConflict => {
  if (error instanceof ConcurrencyConflict) return error;
  throw error;
};

const settledAppend = (job: Job, r: AppendResult | ConcurrencyConflict): Settled =>
  r instanceof ConcurrencyConflict
    ? { job, ok: false, value: r }
    : { job, ok: true, value: { replayed: false, value: r, position: r.lastPosition } };

async function readStreamWith<E extends Event>(
  client: PgClient | pg.Pool,
  streamId: string,
  options: ReadStreamOptions = {},
): Promise<ReadStreamResult<E>> {
  const { rows } = await client.query<EventRow & { version: string; position: string | null }>({
    name: 'tworooms_read_stream',
    text: STREAM,
    values: [streamId, (options.fromVersion ?? 1n).toString(), options.maxCount ?? null],
  });
  const streamVersion = BigInt(rows[0]!.version);
  const events = rows.filter((r) => r.position !== null).map(toEvent);
  return {
    events: events as unknown as RecordedEvent<E>[],
    streamVersion,
    streamExists: streamVersion > 0n,
  };
}

const isConnectionError = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^(08|57P)/.test(code)) return true;
  return (
    error instanceof Error && /Connection terminated|not queryable|ECONNRESET/i.test(error.message)
  );
};

/** Opens (and migrates) the PostgreSQL write DB + event log. */
export const postgresEventStore = (options: PostgresEventStoreOptions) =>
  PostgresEventStore.open(options);
