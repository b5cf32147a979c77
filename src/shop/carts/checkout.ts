import type { CommandHandler, CommandResult } from '../../core/command-bus.js';
import { fold } from '../../core/decider.js';
import { resultOf } from '../../core/idempotency.js';
import type { Sql } from '../../core/sql.js';
import { metadataFrom } from '../../core/state-stored.js';
import type { WriteStore } from '../../core/write-store.js';
import type { CheckOutCart, ShopCommandResults } from '../commands.js';
import { streams } from '../events.js';
import { orderIdOf, placeOrder } from '../orders/handlers.js';
import { applyToCartTables } from './cart-tables.js';
import { type CartEvent, cartDecider } from './decider.js';

type Result = ShopCommandResults['CheckOutCart'];

/**
 * Checkout: one write transaction that spans both write styles. Inside it the cart's stream is
 * read and folded (level 3), the decider accepts or refuses (NOT_FOUND, CART_CLOSED,
 * CART_EMPTY), the order is placed exactly as `PlaceOrder` places it (state-stored: prices from
 * the catalog, stock reserved with no oversell, OUT_OF_STOCK naming each short line), and
 * CartCheckedOut is appended with the version read. Either all of it commits or none: a refused
 * reservation leaves the cart open and unchanged, with no order and no stock taken.
 *
 * Two checkouts of one cart: on SQLite the writer runs transactions one at a time, so the second
 * reads the first's CartCheckedOut and is refused CART_CLOSED; where transactions overlap
 * (PostgreSQL), the second's append fails its expected version (CONCURRENCY_CONFLICT), everything
 * it did rolls back, and the retry middleware runs it again into CART_CLOSED. Exactly one order.
 * With an idempotency key the record commits in the same transaction, so a replay answers the
 * first result.
 */
export function checkOutCart(
  store: WriteStore<Sql>,
): CommandHandler<CheckOutCart, Result & CommandResult> {
  return async (command, context) => {
    const streamId = streams.cart(command.data.cartId);
    const outcome = await store.transact<Result>(
      async (tx) => {
        const { events: past, streamVersion } = await tx.readStream<CartEvent>(streamId);
        const state = fold(cartDecider, past);
        const orderId = orderIdOf(command.data);
        const decided = cartDecider.decide(
          { ...command, data: { ...command.data, orderId }, metadata: context.metadata },
          state,
        );
        const events = Array.isArray(decided) ? decided : [decided as CartEvent];
        const checkedOut = events.find((e) => e.type === 'CartCheckedOut');
        if (state.status !== 'open' || !checkedOut) {
          throw new Error('unreachable: the decider checks out an open cart or refuses');
        }
        const order = await placeOrder(
          {
            type: 'PlaceOrder',
            data: { orderId: checkedOut.data.orderId, items: state.lines },
          },
          tx,
          context,
        );
        await tx.record(streamId, events, { expectedVersion: streamVersion });
        await applyToCartTables(tx.db, events);
        return order;
      },
      {
        metadata: metadataFrom(context),
        ...(context.idempotency ? { idempotency: context.idempotency } : {}),
      },
    );
    return resultOf<Result>(outcome);
  };
}
