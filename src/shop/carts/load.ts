import { fold } from '../../core/decider.js';
import type { EventLogReader } from '../../core/event-log.js';
import type { CartView } from '../commands.js';
import { streams } from '../events.js';
import { type CartEvent, cartDecider, cartView } from './decider.js';

export interface LoadedCart {
  readonly view: CartView;
  /** The owner: callers show the cart to them only (anyone else is told NOT_FOUND). */
  readonly customerId: string;
  /** The global position of the cart's last event. */
  readonly position: bigint;
}

/**
 * A cart read from its own stream: the event-sourced write model is the freshest answer there
 * is, and a cart's stream is short. Undefined when there is no such cart.
 */
export async function loadCart(
  log: EventLogReader,
  cartId: string,
): Promise<LoadedCart | undefined> {
  const { events } = await log.readStream<CartEvent>(streams.cart(cartId));
  const state = fold(cartDecider, events);
  const view = cartView(state);
  const last = events.at(-1);
  if (!view || state.status === 'none' || !last) return undefined;
  return { view, customerId: state.customerId, position: last.position };
}
