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
import { Mutex } from '../../core/mutex.js';
import type {
  IdempotencyRecord,
  TransactOptions,
  TransactOutcome,
  WriteStore,
  WriteTx,
} from '../../core/write-store.js';
import { MemoryTables } from './tables.js';

export interface MemoryEventStoreOptions {
  readonly clock?: () => Date;
}

/**
 * A real event store in memory (not a mock): the same rules as the database stores, one
 * transaction at a time, rollback on a throw. For unit tests and examples.
 */
export class MemoryEventStore implements EventLog, WriteStore<MemoryTables> {
  readonly log: EventLog = this;
  /** The normalized "tables" state-stored handlers write to. */
  readonly tables = new MemoryTables();
  private readonly all: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  private readonly listeners = new Set<(head: bigint) => void>();
  private readonly mutex = new Mutex();
  private readonly clock: () => Date;

  constructor(options: MemoryEventStoreOptions = {}) {
    this.clock = options.clock ?? (() => new Date());
  }

  append(
    streamId: string,
    events: readonly Event[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    return this.transact((tx) => tx.record(streamId, events, options)).then((o) => {
      if (o.replayed) throw new Error('unreachable');
      return o.value;
    });
  }

  transact<T>(
    fn: (tx: WriteTx<MemoryTables>) => Promise<T> | T,
    options: TransactOptions = {},
  ): Promise<TransactOutcome<T>> {
    return this.mutex.run(async () => {
      const key = options.idempotency;
      if (key) {
        const existing = this.idempotency.get(key.key);
        if (existing) {
          if (existing.fingerprint !== key.fingerprint) throw coreError('IDEMPOTENCY_KEY_REUSED');
          return { replayed: true, result: existing.result } as const;
        }
      }
      const pending: RecordedEvent[] = [];
      const versionOf = (streamId: string) => {
        const own = pending.filter((e) => e.streamId === streamId).at(-1);
        return own?.streamVersion ?? BigInt(this.streams.get(streamId)?.length ?? 0);
      };
      const tx: WriteTx<MemoryTables> = {
        db: this.tables,
        record: async (streamId, events, appendOptions = {}) => {
          const current = versionOf(streamId);
          checkExpectedVersion(streamId, appendOptions.expectedVersion, current);
          const shared: MessageMetadata | undefined =
            options.metadata || appendOptions.metadata
              ? { ...options.metadata, ...appendOptions.metadata }
              : undefined;
          const base = BigInt(this.all.length + pending.length);
          const recordedAt = this.clock();
          events.forEach((event, i) => {
            // Stored by value, as a database would: later changes to the caller's objects do not leak in.
            pending.push({
              ...structuredClone(event),
              id: globalThis.crypto.randomUUID(),
              streamId,
              streamVersion: current + BigInt(i + 1),
              position: base + BigInt(i + 1),
              recordedAt,
              metadata: structuredClone(eventMetadata(event, shared)),
            });
          });
          return {
            streamVersion: current + BigInt(events.length),
            firstPosition: base + 1n,
            lastPosition: base + BigInt(events.length),
          };
        },
        readStream: async (streamId, readOptions) =>
          this.readStreamFrom(
            [
              ...(this.streams.get(streamId) ?? []),
              ...pending.filter((e) => e.streamId === streamId),
            ],
            readOptions,
          ),
      };
      const value = await this.tables.atomically(() => fn(tx));
      // commit
      for (const e of pending) {
        this.all.push(e);
        let s = this.streams.get(e.streamId);
        if (!s) {
          s = [];
          this.streams.set(e.streamId, s);
        }
        s.push(e);
      }
      const position = BigInt(this.all.length);
      if (key) {
        this.idempotency.set(key.key, { ...key, result: encodeJson({ value, position }) });
      }
      if (pending.length > 0) for (const l of this.listeners) l(position);
      return { replayed: false, value, position } as const;
    });
  }

  private readStreamFrom<E extends Event>(
    stream: readonly RecordedEvent[],
    options: ReadStreamOptions = {},
  ): ReadStreamResult<E> {
    const from = Math.max(0, Number(options.fromVersion ?? 1n) - 1);
    const to = options.maxCount === undefined ? undefined : from + options.maxCount;
    return {
      events: structuredClone(stream.slice(from, to)) as unknown as RecordedEvent<E>[],
      streamVersion: BigInt(stream.length),
      streamExists: stream.length > 0,
    };
  }

  async readStream<E extends Event = Event>(
    streamId: string,
    options?: ReadStreamOptions,
  ): Promise<ReadStreamResult<E>> {
    return this.readStreamFrom(this.streams.get(streamId) ?? [], options);
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllResult> {
    const types = options.types ? new Set(options.types) : undefined;
    const events: RecordedEvent[] = [];
    let coveredTo = options.after;
    for (let i = Number(options.after); i < this.all.length && events.length < options.limit; i++) {
      const e = this.all[i]!;
      coveredTo = e.position;
      if (!types || types.has(e.type)) events.push(structuredClone(e));
    }
    if (events.length < options.limit)
      coveredTo = BigInt(this.all.length) > coveredTo ? BigInt(this.all.length) : coveredTo;
    return { events, coveredTo };
  }

  async readAllData(options: ReadAllOptions): Promise<ReadAllResult<PositionedEvent>> {
    const { events, coveredTo } = await this.readAll(options);
    return {
      events: events.map(({ position, type, data }) => ({ position, type, data })),
      coveredTo,
    };
  }

  async headPosition(): Promise<bigint> {
    return BigInt(this.all.length);
  }

  onAppended(listener: (head: bigint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async findIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    return this.idempotency.get(key);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

export const memoryEventStore = (options?: MemoryEventStoreOptions) =>
  new MemoryEventStore(options);
