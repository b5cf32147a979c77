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
import type { Event, MessageMetadata, RecordedEvent } from '../../core/messages.js';
import type {
  IdempotencyRecord,
  TransactOptions,
  TransactOutcome,
  WriteStore,
  WriteTx,
} from '../../core/write-store.js';
import { migrate, openSqlite, type SqliteSynchronous } from './open.js';
import { eventLogMigrations } from './schema.js';

export interface SqliteEventStoreOptions {
  /** The write DB file (normalized tables and the event log). */
  readonly path: string;
  readonly synchronous?: SqliteSynchronous;
  /** Most transactions that may share one commit (default 256). */
  readonly maxGroup?: number;
  readonly clock?: () => Date;
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
  metadata: JSON.parse(r[6]),
  recordedAt: new Date(r[7]),
});

interface Job {
  readonly fn: (tx: WriteTx<Database.Database>) => unknown;
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
  private readonly maxGroup: number;
  private readonly clock: () => Date;
  private readonly stmt;

  constructor(options: SqliteEventStoreOptions) {
    this.db = openSqlite(options.path, { synchronous: options.synchronous ?? 'normal' });
    migrate(this.db, eventLogMigrations);
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
      headR: r.prepare('SELECT max(position) FROM events').pluck(),
      findKeyR: r.prepare('SELECT key, fingerprint, result FROM idempotency_keys WHERE key = ?'),
      // Prepared once: parsing transaction-control SQL on every commit is measurable.
      begin: w.prepare('BEGIN IMMEDIATE'),
      commit: w.prepare('COMMIT'),
      rollback: w.prepare('ROLLBACK'),
      savepoint: w.prepare('SAVEPOINT job'),
      release: w.prepare('RELEASE job'),
      rollbackTo: w.prepare('ROLLBACK TO job'),
    };
  }

  append(
    streamId: string,
    events: readonly Event[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    return this.transact((tx) => tx.record(streamId, events, options)).then((o) => {
      if (o.replayed) throw new Error('unreachable: append takes no idempotency key');
      return o.value;
    });
  }

  transact<T>(
    fn: (tx: WriteTx<Database.Database>) => Promise<T> | T,
    options: TransactOptions = {},
  ): Promise<TransactOutcome<T>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ fn, options, resolve: resolve as Job['resolve'], reject });
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
        const group = this.queue.splice(0, this.maxGroup);
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
        queueMicrotask(() => void this.drain());
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
    // One read transaction: the events and the head come from the same snapshot.
    return this.reader.transaction(() => {
      const rows = (
        options.types
          ? this.stmt.allTyped.all(options.after, JSON.stringify(options.types), options.limit)
          : this.stmt.all.all(options.after, options.limit)
      ) as Row[];
      const events = rows.map(toEvent);
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
    this.db.close();
  }
}

/** Opens (and migrates) the embedded write DB + event log. */
export const sqliteEventStore = (options: SqliteEventStoreOptions) => new SqliteEventStore(options);
