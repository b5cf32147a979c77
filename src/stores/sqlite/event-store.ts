import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { coreError } from '../../core/errors.js';
import {
  type AppendOptions,
  type AppendResult,
  checkExpectedVersion,
  type EventLog,
  eventMetadata,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type ReadStreamResult,
} from '../../core/event-log.js';
import { encodeJson } from '../../core/json.js';
import type {
  Event,
  MessageMetadata,
  PositionedEvent,
  RecordedEvent,
} from '../../core/messages.js';
import type {
  IdempotencyRecord,
  TransactOptions,
  TransactOutcome,
  WriteStore,
  WriteTx,
} from '../../core/write-store.js';
import { type BackgroundCheckpoints, checkpointsOf } from './checkpointer.js';
import { migrate, openSqlite, type SqliteSynchronous } from './open.js';
import { eventLogMigrations } from './schema.js';

export interface SqliteEventStoreOptions {
  /** The write DB file (normalized tables and the event log). */
  readonly path: string;
  /** Default `full`: the log is the archive, and read models must never be ahead of it. */
  readonly synchronous?: SqliteSynchronous;
  /** Most transactions that may share one commit (default 256). */
  readonly maxGroup?: number;
  readonly clock?: () => Date;
  /**
   * Checkpoint the WAL on a background thread instead of on the commit that fills it (default
   * false): commits then never stall on copying the WAL into the file (`backgroundCheckpoints`).
   */
  readonly backgroundCheckpoints?: boolean;
}

type Row = [bigint | number, string, string, number, string, string, string, number];

const COLUMNS = 'position, id, stream_id, stream_version, type, data, metadata, recorded_at';

const toEvent = (r: Row): RecordedEvent => ({
  position: BigInt(r[0]),
  id: r[1],
  streamId: r[2],
  streamVersion: BigInt(r[3]),
  type: r[4],
  data: JSON.parse(r[5]),
  // Most events carry no metadata: skip parsing the common empty object.
  metadata: r[6] === '{}' ? {} : JSON.parse(r[6]),
  recordedAt: new Date(r[7]),
});

/** `readAllData`'s columns: what a projection declaring `eventFields: 'data'` reads. */
type DataRow = [bigint | number, string, string];

const DATA_COLUMNS = 'position, type, data';

const toPositioned = (r: DataRow): PositionedEvent => ({
  position: BigInt(r[0]),
  type: r[1],
  data: JSON.parse(r[2]),
});

interface Job {
  readonly fn: (tx: WriteTx<Database.Database>) => unknown;
  /** Set by `append`: a lone one-event append can then commit as one autocommit statement. */
  readonly append?: {
    readonly streamId: string;
    readonly events: readonly Event[];
    readonly options: AppendOptions | undefined;
  };
  readonly options: TransactOptions;
  readonly resolve: (o: TransactOutcome<unknown>) => void;
  readonly reject: (e: unknown) => void;
}

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Event log and write DB in one SQLite file. One connection writes (SQLite has one writer);
 * concurrent transactions queue and share commits (group commit: each runs in its own
 * savepoint, all commit together, each caller is answered only after that commit). Another
 * connection reads the log, so readers only ever see committed events, in position order.
 */
export class SqliteEventStore implements EventLog, WriteStore<Database.Database> {
  readonly log: EventLog = this;
  /** The write connection: use it only inside `transact`. */
  readonly db: Database.Database;
  private readonly reader: Database.Database;
  private readonly listeners = new Set<(head: bigint) => void>();
  private readonly queue: Job[] = [];
  private draining = false;
  private readonly checkpoints: BackgroundCheckpoints | undefined;
  private readonly maxGroup: number;
  private readonly clock: () => Date;
  private readonly stmt;

  constructor(options: SqliteEventStoreOptions) {
    // FULL: an acknowledged event survives power loss too (docs/architecture.md).
    this.db = openSqlite(options.path, { synchronous: options.synchronous ?? 'full' });
    migrate(this.db, eventLogMigrations);
    this.checkpoints = options.backgroundCheckpoints
      ? checkpointsOf(this.db, options.path)
      : undefined;
    this.reader = openSqlite(options.path, { readonly: true });
    this.maxGroup = options.maxGroup ?? 256;
    this.clock = options.clock ?? (() => new Date());
    const w = this.db;
    const r = this.reader;
    this.stmt = {
      insert: w.prepare(
        'INSERT INTO events (id, stream_id, stream_version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      version: w.prepare('SELECT max(stream_version) FROM events WHERE stream_id = ?').pluck(),
      head: w.prepare('SELECT max(position) FROM events').pluck(),
      findKey: w.prepare('SELECT key, fingerprint, result FROM idempotency_keys WHERE key = ?'),
      putKey: w.prepare(
        'INSERT INTO idempotency_keys (key, fingerprint, result, created_at) VALUES (?, ?, ?, ?)',
      ),
      streamW: w
        .prepare(
          `SELECT ${COLUMNS} FROM events WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version LIMIT ?`,
        )
        .raw(),
      streamR: r
        .prepare(
          `SELECT ${COLUMNS} FROM events WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version LIMIT ?`,
        )
        .raw(),
      versionR: r.prepare('SELECT max(stream_version) FROM events WHERE stream_id = ?').pluck(),
      all: r
        .prepare(`SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`)
        .raw(),
      allTyped: r
        .prepare(
          `SELECT ${COLUMNS} FROM events WHERE position > ? AND type IN (SELECT value FROM json_each(?)) ORDER BY position LIMIT ?`,
        )
        .raw(),
      allData: r
        .prepare(`SELECT ${DATA_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`)
        .raw(),
      allDataTyped: r
        .prepare(
          `SELECT ${DATA_COLUMNS} FROM events WHERE position > ? AND type IN (SELECT value FROM json_each(?)) ORDER BY position LIMIT ?`,
        )
        .raw(),
      headR: r.prepare('SELECT max(position) FROM events').pluck(),
      findKeyR: r.prepare('SELECT key, fingerprint, result FROM idempotency_keys WHERE key = ?'),
      // Prepared once: parsing transaction-control SQL on every commit is measurable.
      begin: w.prepare('BEGIN IMMEDIATE'),
      commit: w.prepare('COMMIT'),
      rollback: w.prepare('ROLLBACK'),
      savepoint: w.prepare('SAVEPOINT job'),
      release: w.prepare('RELEASE job'),
      rollbackTo: w.prepare('ROLLBACK TO job'),
      // One-event append with its expected-version check in one autocommit statement: the
      // version is read and the row written atomically (SQLite has one writer).
      appendOne: w.prepare(
        `INSERT INTO events (id, stream_id, stream_version, type, data, metadata, recorded_at)
         SELECT ?, ?, v + 1, ?, ?, ?, ?
           FROM (SELECT coalesce(max(stream_version), 0) AS v FROM events WHERE stream_id = ?)
          WHERE ? IS NULL OR (? = -1 AND v > 0) OR v = ?
         RETURNING position, stream_version`,
      ),
    };
  }

  append(
    streamId: string,
    events: readonly Event[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    return new Promise<TransactOutcome<AppendResult>>((resolve, reject) => {
      this.enqueue({
        fn: (tx) => tx.record(streamId, events, options),
        options: {},
        append: { streamId, events, options },
        resolve: resolve as Job['resolve'],
        reject,
      });
    }).then((o) => {
      if (o.replayed) throw new Error('unreachable: append takes no idempotency key');
      return o.value;
    });
  }

  private enqueue(job: Job): void {
    this.queue.push(job);
    if (!this.draining) {
      this.draining = true;
      // A transaction (a command) drains after the I/O already received, so the requests that
      // arrived together queue theirs first and share one commit: in a microtask, 32 concurrent
      // HTTP clients placing orders got one commit (and fsync) each. A lone append keeps the
      // microtask (a sequential writer would pay a loop turn per append: ~15% with fsync).
      if (job.append) queueMicrotask(() => void this.drain());
      else setImmediate(() => void this.drain());
    }
  }

  /**
   * A lone one-event append, committed as one autocommit statement (no BEGIN/COMMIT round):
   * the common case of a sequential writer. Answers like `record` does.
   */
  private appendAlone(job: Job & { append: NonNullable<Job['append']> }): void {
    const { streamId, events, options } = job.append;
    const event = events[0] as Event;
    const expected = options?.expectedVersion;
    // NULL: no check; -1: the stream must exist; n: exactly n events so far (0: no stream).
    const check =
      expected === undefined || expected === 'any'
        ? null
        : expected === 'stream_exists'
          ? -1
          : expected === 'no_stream'
            ? 0
            : expected;
    let row: { position: number | bigint; stream_version: number | bigint } | undefined;
    try {
      // all(), not get(): SQLite runs its WAL hook (the autocheckpoint) only when a statement
      // steps to its end; a get() stops at the RETURNING row, commits on reset and never
      // checkpoints, so the WAL would grow without bound.
      [row] = this.stmt.appendOne.all(
        randomUUID(),
        streamId,
        event.type,
        JSON.stringify(event.data),
        JSON.stringify(eventMetadata(event, options?.metadata)),
        this.clock().getTime(),
        streamId,
        check,
        check,
        check,
      ) as Array<NonNullable<typeof row>>;
    } catch (error) {
      job.reject(error);
      return;
    }
    if (!row) {
      const current = BigInt((this.stmt.version.get(streamId) as number | null) ?? 0);
      try {
        checkExpectedVersion(streamId, expected, current);
        job.reject(new Error(`append to ${streamId} refused without a version conflict`));
      } catch (conflict) {
        job.reject(conflict);
      }
      return;
    }
    const position = BigInt(row.position);
    const result: AppendResult = {
      streamVersion: BigInt(row.stream_version),
      firstPosition: position,
      lastPosition: position,
    };
    job.resolve({ replayed: false, value: result, position });
    for (const l of this.listeners) l(position);
  }

  transact<T>(
    fn: (tx: WriteTx<Database.Database>) => Promise<T> | T,
    options: TransactOptions = {},
  ): Promise<TransactOutcome<T>> {
    return new Promise((resolve, reject) => {
      this.enqueue({ fn, options, resolve: resolve as Job['resolve'], reject });
    });
  }

  /** Commits queued transactions in groups until the queue is empty. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, this.maxGroup);
        const alone = group[0];
        if (group.length === 1 && alone?.append?.events.length === 1) {
          this.appendAlone(alone as Job & { append: NonNullable<Job['append']> });
          continue;
        }
        // A lone transaction needs no savepoint: its failure rolls back the whole (own) commit.
        const shared = group.length > 1;
        const settled: Array<{ job: Job; ok: boolean; value: unknown }> = [];
        let commitError: unknown;
        let head: bigint | undefined;
        this.stmt.begin.run();
        try {
          for (const job of group) {
            if (shared) this.stmt.savepoint.run();
            try {
              const { outcome, last } = await this.runJob(job);
              if (shared) this.stmt.release.run();
              if (last !== undefined) head = last;
              settled.push({ job, ok: true, value: outcome });
            } catch (error) {
              settled.push({ job, ok: false, value: error });
              if (!shared) throw error; // a lone job's own failure rolls back its transaction
              this.stmt.rollbackTo.run();
              this.stmt.release.run();
            }
          }
          this.stmt.commit.run();
        } catch (error) {
          commitError = error;
          head = undefined;
          if (this.db.inTransaction) this.stmt.rollback.run();
        }
        for (const s of settled) {
          if (commitError !== undefined) s.job.reject(commitError);
          else if (s.ok) s.job.resolve(s.value as TransactOutcome<unknown>);
          else s.job.reject(s.value);
        }
        if (head !== undefined) for (const l of this.listeners) l(head);
        // Under concurrency, let the callers just answered queue their next transactions (and
        // let I/O run) so that they share the next commit.
        if (group.length > 1) await yieldToIo();
      }
    } finally {
      this.draining = false;
      if (this.queue.length > 0) {
        this.draining = true;
        setImmediate(() => void this.drain());
      }
    }
  }

  private async runJob(
    job: Job,
  ): Promise<{ outcome: TransactOutcome<unknown>; last: bigint | undefined }> {
    const { options } = job;
    const key = options.idempotency;
    if (key) {
      const existing = this.stmt.findKey.get(key.key) as IdempotencyRecord | undefined;
      if (existing) {
        if (existing.fingerprint !== key.fingerprint) throw coreError('IDEMPOTENCY_KEY_REUSED');
        return { outcome: { replayed: true, result: existing.result }, last: undefined };
      }
    }
    let last: bigint | undefined;
    const tx: WriteTx<Database.Database> = {
      db: this.db,
      record: async (streamId, events, appendOptions = {}) => {
        const result = this.recordSync(streamId, events, appendOptions, options.metadata);
        if (events.length > 0) last = result.lastPosition;
        return result;
      },
      readStream: async (streamId, readOptions) =>
        this.readStreamWith(this.stmt.streamW, this.stmt.version, streamId, readOptions),
    };
    const value = await job.fn(tx);
    const position = last ?? BigInt((this.stmt.head.get() as number | null) ?? 0);
    if (key)
      this.stmt.putKey.run(key.key, key.fingerprint, encodeJson({ value, position }), Date.now());
    return { outcome: { replayed: false, value, position }, last };
  }

  private recordSync(
    streamId: string,
    events: readonly Event[],
    options: AppendOptions,
    txMetadata: MessageMetadata | undefined,
  ): AppendResult {
    const current = BigInt((this.stmt.version.get(streamId) as number | null) ?? 0);
    checkExpectedVersion(streamId, options.expectedVersion, current);
    const shared =
      txMetadata && options.metadata
        ? { ...txMetadata, ...options.metadata }
        : (options.metadata ?? txMetadata);
    const recordedAt = this.clock().getTime();
    let first = 0n;
    let last = 0n;
    let version = current;
    for (const event of events) {
      version++;
      const info = this.stmt.insert.run(
        randomUUID(),
        streamId,
        version,
        event.type,
        JSON.stringify(event.data),
        JSON.stringify(eventMetadata(event, shared)),
        recordedAt,
      );
      last = BigInt(info.lastInsertRowid);
      if (first === 0n) first = last;
    }
    return { streamVersion: version, firstPosition: first, lastPosition: last };
  }

  private readStreamWith<E extends Event>(
    rows: Database.Statement,
    versionStmt: Database.Statement,
    streamId: string,
    options: ReadStreamOptions = {},
  ): ReadStreamResult<E> {
    const from = options.fromVersion ?? 1n;
    const events = (rows.all(streamId, from, options.maxCount ?? -1) as Row[]).map(toEvent);
    const streamVersion = BigInt((versionStmt.get(streamId) as number | null) ?? 0);
    return {
      events: events as unknown as RecordedEvent<E>[],
      streamVersion,
      streamExists: streamVersion > 0n,
    };
  }

  async readStream<E extends Event = Event>(
    streamId: string,
    options?: ReadStreamOptions,
  ): Promise<ReadStreamResult<E>> {
    return this.reader.transaction(() =>
      this.readStreamWith<E>(this.stmt.streamR, this.stmt.versionR, streamId, options),
    )();
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllResult> {
    return this.readAllWith(this.stmt.all, this.stmt.allTyped, toEvent, options);
  }

  async readAllData(options: ReadAllOptions): Promise<ReadAllResult<PositionedEvent>> {
    return this.readAllWith(this.stmt.allData, this.stmt.allDataTyped, toPositioned, options);
  }

  private readAllWith<R, T extends PositionedEvent>(
    all: Database.Statement,
    typed: Database.Statement,
    decode: (row: R) => T,
    options: ReadAllOptions,
  ): ReadAllResult<T> {
    // One read transaction: the events and the head come from the same snapshot.
    return this.reader.transaction(() => {
      const rows = (
        options.types
          ? typed.all(options.after, JSON.stringify(options.types), options.limit)
          : all.all(options.after, options.limit)
      ) as R[];
      const events = rows.map(decode);
      const last = events.at(-1)?.position;
      const coveredTo =
        events.length === options.limit && last !== undefined
          ? last
          : BigInt((this.stmt.headR.get() as number | null) ?? 0);
      return { events, coveredTo: coveredTo > options.after ? coveredTo : options.after };
    })();
  }

  async headPosition(): Promise<bigint> {
    return BigInt((this.stmt.headR.get() as number | null) ?? 0);
  }

  onAppended(listener: (head: bigint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    return this.stmt.findKeyR.get(key) as IdempotencyRecord | undefined;
  }

  /** A read-only connection to the write DB, for level-1 query handlers: writing through it fails. */
  readOnly(): Database.Database {
    return openSqlite(this.db.name, { readonly: true });
  }

  async close(): Promise<void> {
    while (this.draining || this.queue.length > 0) await yieldToIo();
    this.listeners.clear();
    this.reader.close();
    await this.checkpoints?.close();
    this.db.close();
  }
}

/** Opens (and migrates) the embedded write DB + event log. */
export const sqliteEventStore = (options: SqliteEventStoreOptions) => new SqliteEventStore(options);
