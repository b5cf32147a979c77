import pg from 'pg';
import type {
  AppendOptions,
  AppendResult,
  EventLog,
  ReadAllOptions,
  ReadAllResult,
  ReadStreamOptions,
  ReadStreamResult,
} from '../../core/event-log.js';
import type { Event, PositionedEvent } from '../../core/messages.js';
import type {
  IdempotencyRecord,
  TransactOptions,
  TransactOutcome,
  WriteStore,
  WriteTx,
} from '../../core/write-store.js';
import { GroupCommit } from './group-commit.js';
import { HeadWatcher } from './head-watcher.js';
import { NO_APPEND } from './job.js';
import { migrate } from './migrate.js';
import { readStreamWith } from './read-stream.js';
import { type EventRow, toEvent } from './rows.js';
import { eventLogMigrations } from './schema.js';
import { StreamReader } from './stream-reader.js';
import { Writer } from './writer.js';

export interface PostgresEventStoreOptions {
  readonly connectionString: string;
  /** Connections for readers and the writer (default 10; at least 2). */
  readonly poolSize?: number;
  /** Most transactions that may share one commit (default 64: PostgreSQL keeps 64 subtransactions per backend cheaply). */
  readonly maxGroup?: number;
  readonly clock?: () => Date;
}

/**
 * Event log and write DB on PostgreSQL. One connection writes: concurrent transactions share
 * one PostgreSQL transaction (group commit, see `GroupCommit`); a lone append is one statement
 * in autocommit. Readers only see the log up to the horizon below which no transaction can
 * still commit an event (see docs/architecture.md, "PostgreSQL event log"), so they never skip one.
 * @example
 *   const store = await PostgresEventStore.open({ connectionString: 'postgres://127.0.0.1/shop' });
 */
export class PostgresEventStore implements EventLog, WriteStore<pg.PoolClient> {
  readonly log: EventLog = this;
  private closed = false;
  private readonly writer: Writer;
  private readonly commits: GroupCommit;
  private readonly heads: HeadWatcher;
  private readonly streams: StreamReader;

  private constructor(
    /** Readers and anything else that needs a connection to the write DB. */
    readonly pool: pg.Pool,
    writer: pg.PoolClient,
    options: PostgresEventStoreOptions,
  ) {
    this.writer = new Writer(pool, writer);
    this.streams = new StreamReader(pool);
    this.heads = new HeadWatcher({
      connectionString: options.connectionString,
      horizon: () => this.horizon(),
      ownPid: () => this.writer.pid,
    });
    this.commits = new GroupCommit(this.writer, {
      maxGroup: options.maxGroup ?? 64,
      clock: options.clock ?? (() => new Date()),
      committed: (head) => this.heads.committed(head),
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

  private enqueue(...args: Parameters<GroupCommit['enqueue']>): Promise<TransactOutcome<unknown>> {
    if (this.closed) return Promise.reject(new Error('The event store is closed'));
    return this.commits.enqueue(...args);
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
    return this.readAllWith(
      'tworooms_read_all',
      'pos AS position, id, stream_id, stream_version, type, data, metadata, recorded_at',
      toEvent,
      options,
    );
  }

  async readAllData(options: ReadAllOptions): Promise<ReadAllResult<PositionedEvent>> {
    return this.readAllWith(
      'tworooms_read_all_data',
      'pos AS position, type, data',
      (r: Pick<EventRow, 'position' | 'type' | 'data'>) => ({
        position: BigInt(r.position),
        type: r.type,
        data: JSON.parse(r.data),
      }),
      options,
    );
  }

  private async readAllWith<R, T extends PositionedEvent>(
    name: string,
    columns: string,
    decode: (row: R) => T,
    options: ReadAllOptions,
  ): Promise<ReadAllResult<T>> {
    const { rows } = await this.pool.query<R & Record<'head' | 'horizon' | 'last', string>>({
      name,
      text: `SELECT head, horizon, last, ${columns} FROM tworooms_read_all($1, $2, $3)`,
      values: [options.after.toString(), options.limit, options.types ?? null],
    });
    const header = rows[0]!;
    const head = BigInt(header.head);
    this.heads.observed(BigInt(header.horizon), BigInt(header.last));
    const events = rows.slice(1).map(decode);
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
    while (this.commits.busy) await new Promise<void>((resolve) => setImmediate(resolve));
    await this.heads.close();
    this.writer.release();
    await this.pool.end();
  }
}

/** Opens (and migrates) the PostgreSQL write DB + event log. */
export const postgresEventStore = (options: PostgresEventStoreOptions) =>
  PostgresEventStore.open(options);
