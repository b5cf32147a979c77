import type {
  AppendOptions,
  AppendResult,
  EventLog,
  ReadStreamOptions,
  ReadStreamResult,
} from './event-log.js';
import type { Event, MessageMetadata } from './messages.js';

/** The idempotency record a command stores beside its events. */
export interface IdempotencyRecord {
  readonly key: string;
  /** A digest of what was asked (type, data, actor): the same key with another request is refused. */
  readonly fingerprint: string;
  /** The encoded result of the first execution. */
  readonly result: string;
}

export interface TransactOptions {
  /** Checked and stored in the same transaction as the events. */
  readonly idempotency?: { readonly key: string; readonly fingerprint: string };
  /** Metadata merged into every event recorded in this transaction (correlation, causation, actor). */
  readonly metadata?: MessageMetadata;
}

/**
 * One ACID transaction on the write DB. `db` is the store's own handle (a better-sqlite3
 * database, a pg client, an in-memory table set) for the normalized tables; `record` writes
 * events into the log inside the same transaction.
 */
export interface WriteTx<H> {
  readonly db: H;
  record(
    streamId: string,
    events: readonly Event[],
    options?: AppendOptions,
  ): Promise<AppendResult>;
  /** Reads a stream as this transaction sees it (its own uncommitted events included). */
  readStream<E extends Event = Event>(
    streamId: string,
    options?: ReadStreamOptions,
  ): Promise<ReadStreamResult<E>>;
}

export type TransactOutcome<T> =
  /** The function ran and committed. `position` is its last event's, or the head it saw. */
  | { readonly replayed: false; readonly value: T; readonly position: bigint }
  /** The idempotency key was already used with the same request: its first result, nothing ran. */
  | { readonly replayed: true; readonly result: string };

/**
 * The write side: normalized tables and the event log in one database, so a state-stored
 * handler changes its rows and records its events atomically.
 */
export interface WriteStore<H> {
  readonly log: EventLog;
  /**
   * Runs `fn` in one transaction. On a throw everything rolls back. Concurrent calls may share
   * one commit (group commit), but each settles only after its own work is durable.
   */
  transact<T>(
    fn: (tx: WriteTx<H>) => Promise<T> | T,
    options?: TransactOptions,
  ): Promise<TransactOutcome<T>>;
  /** The stored record for an idempotency key, if any (outside any transaction). */
  findIdempotency(key: string): Promise<IdempotencyRecord | undefined>;
  close(): Promise<void>;
}

/** The same store seen through another handle (e.g. a driver connection wrapped as `Sql`). */
export function mapWriteStore<H, H2>(store: WriteStore<H>, map: (db: H) => H2): WriteStore<H2> {
  return {
    log: store.log,
    findIdempotency: (key) => store.findIdempotency(key),
    close: () => store.close(),
    transact: (fn, options) =>
      store.transact(
        (tx) => fn({ db: map(tx.db), record: tx.record, readStream: tx.readStream }),
        options,
      ),
  };
}
