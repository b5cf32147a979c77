import type { CommandContext, CommandHandler, CommandResult } from './command-bus.js';
import { isConcurrencyConflict } from './errors.js';
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
  return async (command: C, context: CommandContext) => {
    const streamId = options.streamId(command);
    for (let attempt = 1; ; attempt++) {
      const { events: past, streamVersion } = await store.log.readStream<E>(streamId);
      const state = fold(decider, past as readonly RecordedEvent<E>[]);
      // The decider sees the command with the bus's metadata (its clock reading, ids, actor).
      const events = asArray(decider.decide({ ...command, metadata: context.metadata }, state));
      const next = events.reduce(decider.evolve, state);
      const expectedVersion = streamVersion === 0n ? 'no_stream' : streamVersion;
      try {
        if (events.length > 0 && !options.inTransaction && !context.idempotency) {
          // Nothing to do in the transaction but record the events: a plain append (one
          // autocommit statement on the SQL stores, and it joins a group commit alike).
          const value = (options.result?.(next, events, command) ?? {}) as V;
          const appended = await store.log.append(streamId, events, {
            expectedVersion,
            metadata: metadataFrom(context),
          });
          return commandResult(value, appended.lastPosition);
        }
        const outcome = await store.transact<V>(
          async (tx) => {
            if (events.length > 0) {
              await tx.record(streamId, events, { expectedVersion });
            }
            await options.inTransaction?.(tx, { command, context, state, events, next });
            return (options.result?.(next, events, command) ?? {}) as V;
          },
          {
            metadata: metadataFrom(context),
            ...(context.idempotency ? { idempotency: context.idempotency } : {}),
          },
        );
        return resultOf<V>(outcome);
      } catch (error) {
        if (attempt >= attempts || !isConcurrencyConflict(error)) throw error;
        await new Promise((r) => setTimeout(r, 2 ** attempt * Math.random()));
      }
    }
  };
}
