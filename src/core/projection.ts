import type { Event, PositionedEvent, RecordedEvent } from './messages.js';
import type { TableNames } from './table-names.js';

/** A table of a read model, as a projection declares it for blue/green rebuilds and verify. */
export interface ReadModelTable {
  readonly name: string;
  /** Columns that identify a row, to pair differing rows in `verify` (default: the first column). */
  readonly key?: readonly string[];
  /** Bookkeeping whose contents may differ between equal read models (e.g. FTS row ids): not verified. */
  readonly internal?: boolean;
}

/** What `apply` is told of the copy it writes to. */
export interface ApplyContext {
  /**
   * True while a copy is built from position 0 and its `finishBuild` has not run yet (its
   * deferred indexes may be missing): `apply` may leave alone what `finishBuild` derives.
   */
  readonly building: boolean;
}

/** What a projection needs of each event: all of its record, or its type, data and position. */
export type EventFields = 'all' | 'data';

/** The events a projection's `apply` is given, as its `eventFields` declares. */
export type EventsFor<F extends EventFields, E extends Event> = F extends 'data'
  ? PositionedEvent<E>
  : RecordedEvent<E>;

/**
 * A projection keeps one read model current: it names the event types it handles and applies
 * them, a batch at a time, to a read store through the store's handle `H`. `apply` must be
 * deterministic in the events it is given (no clock, no random ids): a rebuild from the log then
 * yields the same read model.
 */
interface ProjectionOf<E extends Event, H, F extends EventFields> {
  readonly name: string;
  /** Bump it when the read model's shape or meaning changes: the projection is rebuilt. */
  readonly version: number;
  readonly handles: readonly E['type'][];
  /**
   * Every table the read model owns. With them (and a store that supports it), a rebuild builds
   * a fresh copy beside the live one and switches atomically; without them it resets in place.
   */
  readonly tables?: readonly (string | ReadModelTable)[];
  /**
   * The indexes (as `setup` names them) that `apply` itself reads through. A copy being built
   * from position 0 keeps only these; its other secondary indexes are created once it has caught
   * up, before the switch (building an index on finished rows is far cheaper than keeping it
   * up to date row by row). Absent: the copy keeps all of them.
   */
  readonly buildIndexes?: readonly string[];
  /**
   * Derives, in a copy built from position 0, what is cheaper to compute once from the finished
   * rows than to keep current event by event while the copy is built (e.g. an index of page
   * boundaries). It runs after the deferred indexes are created (verify: in its last
   * transaction, without them), replacing whatever `apply` left there; until then `apply` is told
   * `building`, and from then on it keeps that part current as on the live copy.
   */
  finishBuild?(db: H): unknown;
  /** Creates the read model's tables if they do not exist (runs at every start). */
  setup?(db: H): unknown;
  /** Empties the read model (for a rebuild from position 0). */
  reset?(db: H): unknown;
  /**
   * Applies a batch. What it returns is handed to the projector's `onApplied` once the batch
   * has committed (e.g. which rows' shown figures changed, for a precise cache invalidation).
   */
  apply(events: readonly EventsFor<F, E>[], db: H, context?: ApplyContext): unknown;
}

/**
 * A projection whose `apply` reads each event's whole record (id, stream, metadata, time), the
 * default, or (`eventFields: 'data'`) only its type, data and position: a rebuild then reads the
 * log through its lean read (`EventLogReader.readAllData`), which leaves the rest unread.
 */
export type Projection<E extends Event = Event, H = unknown> =
  | (ProjectionOf<E, H, 'all'> & { readonly eventFields?: 'all' })
  | (ProjectionOf<E, H, 'data'> & { readonly eventFields: 'data' });

/** Identity helper that fixes a projection's types. */
export const defineProjection = <E extends Event, H>(p: Projection<E, H>): Projection<E, H> => p;

export interface ProjectionFailure {
  readonly position: bigint;
  readonly eventId: string;
  readonly eventType: string;
  readonly error: string;
  readonly attempts: number;
  readonly at: Date;
}

/** An event a projection was told to skip (`tworooms skip`): kept with its checkpoint for good. */
export interface SkippedEvent {
  readonly position: bigint;
  readonly eventId: string;
  readonly eventType: string;
  readonly error: string;
  readonly at: Date;
}

/** What a read store keeps for each projection, in the same transaction as its rows. */
export interface Checkpoint {
  readonly name: string;
  readonly version: number;
  /** Every event up to here has been applied exactly once. */
  readonly position: bigint;
  readonly status: 'running' | 'failed';
  readonly failure?: ProjectionFailure;
  /** Which copy of the tables serves: the blue/green switch that built it (absent: 0). */
  readonly generation?: number;
  /** Events skipped by an operator, oldest first (absent: none). */
  readonly skipped?: readonly SkippedEvent[];
}

/**
 * Table operations inside a read-DB transaction: all a store implements for blue/green
 * rebuilds and verify (plain table names, never rewritten).
 */
export interface ReadTables {
  /** Names of every table in the read DB. */
  list(): Promise<string[]>;
  rename(from: string, to: string): Promise<void>;
  /** Drops a table if it exists (with its indexes). */
  drop(name: string): Promise<void>;
  /** Every row of a table, in any order, as column -> value. */
  rows(name: string): Promise<Record<string, unknown>[]>;
  /**
   * One checkpoint as this transaction sees it; no other transaction may commit a change to it
   * until this one ends (SQLite: `BEGIN IMMEDIATE` already; PostgreSQL: `SELECT … FOR UPDATE`),
   * so verify sees the live rows at exactly that position.
   */
  checkpoint(name: string): Promise<Checkpoint | undefined>;
  deleteCheckpoint(name: string): Promise<void>;
  /**
   * Before a switch renames them: takes these tables for the rest of the transaction without
   * failing the queries reading them (PostgreSQL waits briefly, gives way and tries again;
   * a store whose transactions already exclude readers' schema changes has no need of it).
   */
  lock?(names: readonly string[]): Promise<void>;
  /**
   * Drops the secondary indexes of `tables` (created by statements, not by constraints) except
   * those named in `keep`, and returns the statements that create them again (and any other
   * a freshly filled table wants before it serves, e.g. PostgreSQL's ANALYZE).
   */
  deferIndexes?(tables: readonly string[], keep: readonly string[]): Promise<string[]>;
  /** Runs the statements `deferIndexes` returned. */
  createIndexes?(statements: readonly string[]): Promise<void>;
  /**
   * Gathers the query planner's statistics on these tables (PostgreSQL's `ANALYZE`): the
   * projector asks once a live copy it filled from position 0 has caught up. Until then (or until
   * autovacuum, where it runs, gets round to them) the planner guesses, and on a large table it
   * guesses badly. Tables it does not have are skipped. A store whose planner keeps no
   * statistics has no need of it.
   */
  analyze?(tables: readonly string[]): Promise<void>;
}

/** One transaction on the read DB: the projection's changes and its checkpoint commit together. */
export interface ReadTx<H> {
  readonly db: H;
  /**
   * Saves a checkpoint with this transaction's rows. Given `from`, a compare-and-set: the stored
   * position must still be `from` (no row counts as 0), else it throws `CheckpointConflict` and
   * the transaction rolls back, so a batch from a projector that lost its lease, racing the
   * new owner, can never apply twice.
   */
  saveCheckpoint(checkpoint: Checkpoint, from?: bigint): Promise<void>;
  /** Present when the store supports blue/green rebuilds and verify. */
  readonly tables?: ReadTables;
}

export interface ReadTransactOptions {
  /** Gives `tx.db` these table names: its SQL is rewritten by `renameTables(names)`. */
  readonly names?: TableNames;
  /**
   * The transaction creates schema (`CREATE … IF NOT EXISTS`): a store whose processes can race
   * on it (PostgreSQL's catalog) runs such transactions one at a time across processes.
   */
  readonly schema?: boolean;
}

/** A checkpoint moved since the batch began: another projector runs the projection too. */
export class CheckpointConflict extends Error {
  override readonly name = 'CheckpointConflict';
  constructor(
    readonly projection: string,
    readonly expected: bigint,
    readonly found: bigint | undefined,
  ) {
    super(
      `Checkpoint ${projection} is at ${found ?? 'nothing'}, not ${expected}: another projector moved it.`,
    );
  }
}

/** The read side's port: a separate database holding read models and their checkpoints. */
export interface ReadStore<H> {
  /** Creates the checkpoint table and runs each projection's `setup` (idempotent). */
  setup(projections: readonly Projection<Event, H>[]): Promise<void>;
  loadCheckpoints(): Promise<ReadonlyMap<string, Checkpoint>>;
  transact<T>(fn: (tx: ReadTx<H>) => Promise<T> | T, options?: ReadTransactOptions): Promise<T>;
  close(): Promise<void>;
}

/** The same read store seen through another handle; projections written for `H2` run on it. */
export function mapReadStore<H, H2>(store: ReadStore<H>, map: (db: H) => H2): ReadStore<H2> {
  return {
    setup: (projections) =>
      store.transact(
        async (tx) => {
          for (const p of projections) await p.setup?.(map(tx.db));
        },
        { schema: true },
      ),
    loadCheckpoints: () => store.loadCheckpoints(),
    close: () => store.close(),
    transact: (fn, options) =>
      store.transact(
        (tx) =>
          fn({
            db: map(tx.db),
            saveCheckpoint: (c, from) => tx.saveCheckpoint(c, from),
            ...(tx.tables ? { tables: tx.tables } : {}),
          }),
        options,
      ),
  };
}

/** A failure as SQL read stores keep it: JSON text with the position as a decimal string. */
export const encodeFailure = (f: ProjectionFailure): string =>
  JSON.stringify({ ...f, position: f.position.toString() });

/** The stored failure back, or nothing for an empty column. */
export function decodeFailure(text: string | null): ProjectionFailure | undefined {
  if (!text) return undefined;
  const f = JSON.parse(text);
  return { ...f, position: BigInt(f.position), at: new Date(f.at) };
}

/**
 * A checkpoint's generation and skips as SQL read stores keep them: JSON text (positions as
 * decimal strings), or null when there is neither.
 */
export const encodeCheckpointMeta = (c: Checkpoint): string | null =>
  c.generation || c.skipped?.length
    ? JSON.stringify({
        generation: c.generation ?? 0,
        skipped: (c.skipped ?? []).map((k) => ({ ...k, position: k.position.toString() })),
      })
    : null;

/** The stored meta back, as the checkpoint fields it holds (none for an empty column). */
export function decodeCheckpointMeta(
  text: string | null,
): Pick<Checkpoint, 'generation' | 'skipped'> {
  if (!text) return {};
  const meta = JSON.parse(text) as {
    generation?: number;
    skipped?: (Omit<SkippedEvent, 'position' | 'at'> & { position: string; at: string })[];
  };
  return {
    ...(meta.generation ? { generation: meta.generation } : {}),
    ...(meta.skipped?.length
      ? {
          skipped: meta.skipped.map((k) => ({
            ...k,
            position: BigInt(k.position),
            at: new Date(k.at),
          })),
        }
      : {}),
  };
}
