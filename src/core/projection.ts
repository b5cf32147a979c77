import type { Event, RecordedEvent } from './messages.js';

/**
 * A projection keeps one read model current: it names the event types it handles and applies
 * them, a batch at a time, to a read store through the store's handle `H`. `apply` must be
 * deterministic in the events it is given (no clock, no random ids): a rebuild from the log then
 * yields the same read model.
 */
export interface Projection<E extends Event = Event, H = unknown> {
  readonly name: string;
  /** Bump it when the read model's shape or meaning changes: the projection is rebuilt. */
  readonly version: number;
  readonly handles: readonly E['type'][];
  /** Creates the read model's tables if they do not exist (runs at every start). */
  setup?(db: H): unknown;
  /** Empties the read model (for a rebuild from position 0). */
  reset?(db: H): unknown;
  apply(events: readonly RecordedEvent<E>[], db: H): unknown;
}

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

/** What a read store keeps for each projection, in the same transaction as its rows. */
export interface Checkpoint {
  readonly name: string;
  readonly version: number;
  /** Every event up to here has been applied exactly once. */
  readonly position: bigint;
  readonly status: 'running' | 'failed';
  readonly failure?: ProjectionFailure;
}

/** One transaction on the read DB: the projection's changes and its checkpoint commit together. */
export interface ReadTx<H> {
  readonly db: H;
  saveCheckpoint(checkpoint: Checkpoint): Promise<void>;
}

/** The read side's port: a separate database holding read models and their checkpoints. */
export interface ReadStore<H> {
  /** Creates the checkpoint table and runs each projection's `setup` (idempotent). */
  setup(projections: readonly Projection<Event, H>[]): Promise<void>;
  loadCheckpoints(): Promise<ReadonlyMap<string, Checkpoint>>;
  transact<T>(fn: (tx: ReadTx<H>) => Promise<T> | T): Promise<T>;
  close(): Promise<void>;
}

/** The same read store seen through another handle; projections written for `H2` run on it. */
export function mapReadStore<H, H2>(store: ReadStore<H>, map: (db: H) => H2): ReadStore<H2> {
  return {
    setup: (projections) =>
      store.transact(async (tx) => {
        for (const p of projections) await p.setup?.(map(tx.db));
      }),
    loadCheckpoints: () => store.loadCheckpoints(),
    close: () => store.close(),
    transact: (fn) =>
      store.transact((tx) => fn({ db: map(tx.db), saveCheckpoint: tx.saveCheckpoint })),
  };
}
