import { type Decider, fold } from '../decider.js';
import type { Command, Event } from '../messages.js';
import { assertEqual, SpecFailure, show } from './deep-equal.js';

const asArray = <E>(e: E | readonly E[]): readonly E[] => (Array.isArray(e) ? e : [e as E]);

export interface DeciderThen<E extends Event> {
  /** The command yields exactly these events (metadata ignored). */
  thenEvents(expected: E | readonly E[]): void;
  /** The command is accepted and changes nothing. */
  thenNothingHappens(): void;
  /** The command is refused: it throws an error with this `code` (or matching the predicate). */
  thenThrows(expected?: string | ((error: unknown) => boolean)): void;
}

/**
 * Given / when / then for deciders, with no test framework required (a failed spec throws).
 * @example
 *   const spec = deciderSpec(cartDecider);
 *   spec.given([cartCreated]).when(addItem).thenEvents([itemAdded]);
 *   spec.given([cartCheckedOut]).when(addItem).thenThrows('CART_CLOSED');
 */
export function deciderSpec<S, C extends Command, E extends Event>(decider: Decider<S, C, E>) {
  return {
    given(events: readonly E[]) {
      return {
        when(command: C): DeciderThen<E> {
          const run = () => asArray(decider.decide(command, fold(decider, events)));
          const strip = (list: readonly E[]) => list.map((e) => ({ type: e.type, data: e.data }));
          return {
            thenEvents(expected) {
              assertEqual(
                strip(run()),
                strip(asArray(expected)),
                `${command.type} decided other events`,
              );
            },
            thenNothingHappens() {
              assertEqual(strip(run()), [], `${command.type} should decide nothing`);
            },
            thenThrows(expected) {
              let produced: readonly E[];
              try {
                produced = run();
              } catch (error) {
                if (expected === undefined) return;
                const ok =
                  typeof expected === 'string'
                    ? (error as { code?: unknown }).code === expected
                    : expected(error);
                if (!ok)
                  throw new SpecFailure(
                    `${command.type} threw something else: ${show(String(error))}`,
                  );
                return;
              }
              throw new SpecFailure(
                `${command.type} should have been refused but decided ${show(produced)}`,
              );
            },
          };
        },
      };
    },
  };
}
