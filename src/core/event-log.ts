import { ConcurrencyConflict } from './errors.js';
import type { Event, MessageMetadata, PositionedEvent, RecordedEvent } from './messages.js';

/**
 * What the appender believes about the stream:
 * a version (`3n`: exactly three events so far), `'no_stream'` (it must not exist yet),
 * `'stream_exists'` (it must exist), or `'any'` (no check).
 */
export type ExpectedVersion = bigint | 'no_stream' | 'stream_exists' | 'any';

export interface AppendOptions {
  readonly expectedVersion?: ExpectedVersion;
  /** Merged into each event's own metadata (the event's keys win). */
  readonly metadata?: MessageMetadata;
}

export interface AppendResult {
  /** The stream's version after the append (its last event's version). */
  readonly streamVersion: bigint;
  readonly firstPosition: bigint;
  /** The global position of the last event appended: the consistency token of the write. */
  readonly lastPosition: bigint;
}

export interface ReadStreamOptions {
  /** First version to return (inclusive); default 1. */
  readonly fromVersion?: bigint;
  readonly maxCount?: number;
}

export interface ReadStreamResult<E extends Event = Event> {
  readonly events: readonly RecordedEvent<E>[];
  /** The stream's current version; 0n when it does not exist. */
  readonly streamVersion: bigint;
  readonly streamExists: boolean;
}

export interface ReadAllOptions {
  /** Return events strictly after this position (0n for the start). */
  readonly after: bigint;
  readonly limit: number;
  /** Only these event types; `coveredTo` still advances past the others. */
  readonly types?: readonly string[];
}

export interface ReadAllResult<R extends PositionedEvent = RecordedEvent> {
  readonly events: readonly R[];
  /**
   * Every committed event up to this position has been considered: a reader that resumes from
   * here skips nothing. It is at least the last event's position and can be further when events
   * of other types were passed over.
   */
  readonly coveredTo: bigint;
}

/** Reading side of the log: streams, the whole log in order, and its head. */
export interface EventLogReader {
  readStream<E extends Event = Event>(
    streamId: string,
    options?: ReadStreamOptions,
  ): Promise<ReadStreamResult<E>>;
  readAll(options: ReadAllOptions): Promise<ReadAllResult>;
  /**
   * `readAll` with each event's type, data and position only (the same events, the same
   * `coveredTo`): the cheaper read for a rebuild of a projection that needs no more
   * (`Projection.eventFields: 'data'`). Optional: `readAllData(log, options)` falls back to
   * `readAll` for a log without it.
   */
  readAllData?(options: ReadAllOptions): Promise<ReadAllResult<PositionedEvent>>;
  /** The position of the last committed event that every reader can see (0n when empty). */
  headPosition(): Promise<bigint>;
}

/** The log's lean read (`EventLogReader.readAllData`), or its full one where it has none. */
export const readAllData = (
  log: EventLogReader,
  options: ReadAllOptions,
): Promise<ReadAllResult<PositionedEvent>> =>
  log.readAllData ? log.readAllData(options) : log.readAll(options);

/**
 * The event log: the archive and the outbox at once. Append-only, totally ordered by `position`.
 * @example
 *   const r = await log.append('cart-1', [{ type: 'CartCreated', data: {} }], { expectedVersion: 'no_stream' });
 *   r.lastPosition // the consistency token
 */
export interface EventLog extends EventLogReader {
  append(
    streamId: string,
    events: readonly Event[],
    options?: AppendOptions,
  ): Promise<AppendResult>;
  /** Calls `listener` after each commit that recorded events (a wake-up signal, not a data feed). */
  onAppended(listener: (headPosition: bigint) => void): () => void;
}

/** Throws `ConcurrencyConflict` when `expected` does not hold for a stream at `current` (0n: none). */
export function checkExpectedVersion(
  streamId: string,
  expected: ExpectedVersion | undefined,
  current: bigint,
): void {
  if (expected === undefined || expected === 'any') return;
  if (expected === 'no_stream') {
    if (current !== 0n) throw new ConcurrencyConflict(streamId, 'no_stream', current);
    return;
  }
  if (expected === 'stream_exists') {
    if (current === 0n) throw new ConcurrencyConflict(streamId, 'stream_exists', current);
    return;
  }
  if (expected !== current) throw new ConcurrencyConflict(streamId, expected.toString(), current);
}

/** Merges append-level metadata under each event's own. */
export const eventMetadata = (
  event: Event,
  shared: MessageMetadata | undefined,
): MessageMetadata => (shared ? { ...shared, ...event.metadata } : (event.metadata ?? {}));
