import { BoundedMap } from './bounded-map.js';
import type { CommandContext, CommandHandler, CommandResult } from './command-bus.js';
import { isConcurrencyConflict } from './errors.js';
import { eventMetadata } from './event-log.js';
import { commandResult, resultOf } from './idempotency.js';
import type { Command, Event, RecordedEvent } from './messages.js';
import { metadataFrom } from './state-stored.js';
import type { WriteStore, WriteTx } from './write-store.js';

/**
 * An event-sourced model as three pure, synchronous functions: no I/O, no clock, no random ids
 * (those arrive in the command's data or metadata).
 */
export interface Decider<State, C extends Command, E extends Event> {
  initialState(): State;
  evolve(state: State, event: E): State;
  decide(command: C, state: State): E | readonly E[];
}

/** Folds events into state. */
export const fold = <S, E extends Event>(
  decider: Pick<Decider<S, never, E>, 'initialState' | 'evolve'>,
  events: readonly E[],
): S => events.reduce(decider.evolve, decider.initialState());

/** What a decision produced, for `EventSourcedOptions.inTransaction`. */
export interface Decided<State, C extends Command, E extends Event> {
  readonly command: C;
  readonly context: CommandContext;
  /** The state the decision was made on. */
  readonly state: State;
  readonly events: readonly E[];
  /** The state after `events`. */
  readonly next: State;
}

export interface EventSourcedOptions<State, C extends Command, E extends Event, V, H = unknown> {
  readonly decider: Decider<State, C, E>;
  readonly streamId: (command: C) => string;
  /** What the command answers besides its position (default `{}`). */
  readonly result?: (state: State, events: readonly E[], command: C) => V;
  /** Attempts in all when another writer wins the race (default 5). */
  readonly attempts?: number;
  /**
   * Runs inside the append transaction, after the decided events are recorded (also when there
   * are none): check something the decider cannot see (a row of another table), or keep a small
   * level-1 table in step with the stream. A throw rolls the events back with it.
   */
  readonly inTransaction?: (tx: WriteTx<H>, decided: Decided<State, C, E>) => Promise<void> | void;
  /**
   * Streams whose state this handler keeps after its own successful appends (default 10,000;
   * 0 turns the cache off). The next command on such a stream decides on that state without
   * reading the stream. Safe because the append still carries the version the state is at: if
   * another writer (another handler, another process) appended meanwhile, it fails, and the
   * command runs again on the stream as read. A command whose cached state makes it throw or
   * decide nothing also runs again on the stream as read, so only a decision that records
   * events, checked by its expected version, is ever taken on a cached state. The cached state
   * is `evolve` applied to the decided events with the metadata they were recorded with: an
   * `evolve` that reads anything else the log adds (`position`, `recordedAt`, `id`) needs 0.
   */
  readonly cachedStreams?: number;
}

/** A stream's state after this handler's last append to it, and that append's version. */
interface Cached<S> {
  readonly version: bigint;
  readonly state: S;
}

/**
 * The handler's cache of stream states, least recently stored dropped first. An entry is
 * taken out while a command uses it, so two commands never share one state object.
 */
class StateCache<S> {
  private readonly entries: BoundedMap<string, Cached<S>>;

  constructor(max: number) {
    this.entries = new BoundedMap(max);
  }

  take(streamId: string): Cached<S> | undefined {
    const entry = this.entries.get(streamId);
    if (entry) this.entries.delete(streamId);
    return entry;
  }

  /** Stores the state at `version`, unless a newer one is already there. */
  put(streamId: string, version: bigint, state: S): void {
    const held = this.entries.get(streamId);
    if (held && held.version >= version) return;
    this.entries.delete(streamId); // the newest stored is the last forgotten
    this.entries.set(streamId, { version, state });
  }
}

const asArray = <E>(e: E | readonly E[]): readonly E[] => (Array.isArray(e) ? e : [e as E]);

/**
 * A level-3 command handler: load the stream, fold, decide, append with the version it read.
 * Loading happens outside the write transaction (so the write lock is held only for the
 * append); if another writer appended meanwhile, the append fails on its expected version and
 * the cycle runs again on fresh state, a bounded number of times.
 */
export function eventSourcedHandler<
  State,
  C extends Command,
  E extends Event,
  V extends object = object,
  H = unknown,
>(
  store: WriteStore<NoInfer<H>>,
  options: EventSourcedOptions<State, C, E, V, H>,
): CommandHandler<C, V & CommandResult> {
  const { decider } = options;
  const attempts = options.attempts ?? 5;
  const size = options.cachedStreams ?? 10_000;
  const cache = size > 0 ? new StateCache<State>(size) : undefined;
  return async (command: C, context: CommandContext) => {
    const streamId = options.streamId(command);
    // The decider sees the command with the bus's metadata (its clock reading, ids, actor).
    const asked = { ...command, metadata: context.metadata };
    const metadata = metadataFrom(context);
    // After an attempt on a cached state failed, the next one reads the stream.
    let read = false;
    for (let attempt = 1; ; attempt++) {
      const cached = read ? undefined : cache?.take(streamId);
      read = false;
      let state: State;
      let streamVersion: bigint;
      if (cached) ({ state, version: streamVersion } = cached);
      else {
        const loaded = await store.log.readStream<E>(streamId);
        state = fold(decider, loaded.events as readonly RecordedEvent<E>[]);
        streamVersion = loaded.streamVersion;
      }
      let events: readonly E[];
      let next: State;
      let value: V | undefined;
      const plain = !options.inTransaction && !context.idempotency;
      try {
        events = asArray(decider.decide(asked, state));
        // The state after the events, as a fold of the stream will give it (with the metadata
        // they are recorded with).
        next = events.reduce(
          (s, e) => decider.evolve(s, { ...e, metadata: eventMetadata(e, metadata) }),
          state,
        );
        if (plain && events.length > 0)
          value = (options.result?.(next, events, command) ?? {}) as V;
      } catch (error) {
        if (!cached) throw error;
        // Perhaps only the cached state's fault: decide again on the stream as read.
        read = true;
        attempt--;
        continue;
      }
      if (cached && events.length === 0) {
        // Nothing to record, so no version check would catch a stale state: read the stream.
        read = true;
        attempt--;
        continue;
      }
      const expectedVersion = streamVersion === 0n ? 'no_stream' : streamVersion;
      try {
        if (value !== undefined) {
          // Nothing to do in the transaction but record the events: a plain append (one
          // autocommit statement on the SQL stores, and it joins a group commit alike).
          const appended = await store.log.append(streamId, events, { expectedVersion, metadata });
          cache?.put(streamId, appended.streamVersion, next);
          return commandResult(value, appended.lastPosition);
        }
        let version: bigint | undefined;
        const outcome = await store.transact<V>(
          async (tx) => {
            version = undefined;
            if (events.length > 0) {
              version = (await tx.record(streamId, events, { expectedVersion })).streamVersion;
            }
            await options.inTransaction?.(tx, { command, context, state, events, next });
            return (options.result?.(next, events, command) ?? {}) as V;
          },
          { metadata, ...(context.idempotency ? { idempotency: context.idempotency } : {}) },
        );
        if (!outcome.replayed && version !== undefined) cache?.put(streamId, version, next);
        return resultOf<V>(outcome);
      } catch (error) {
        if (cached && isConcurrencyConflict(error)) {
          // The cached state was stale (another writer appended): no race lost, read and go again.
          read = true;
          attempt--;
          continue;
        }
        if (attempt >= attempts || !isConcurrencyConflict(error)) throw error;
        await new Promise((r) => setTimeout(r, 2 ** attempt * Math.random()));
      }
    }
  };
}
