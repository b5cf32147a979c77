import type { CommandHandler, CommandResult } from '../../core/command-bus.js';
import { type Decided, eventSourcedHandler } from '../../core/decider.js';
import { coreError } from '../../core/errors.js';
import type { Sql } from '../../core/sql.js';
import type { WriteStore, WriteTx } from '../../core/write-store.js';
import type {
  AddCartItem,
  CartCommand,
  CheckOutCart,
  CreateCart,
  RemoveCartItem,
  ShopCommandResults,
} from '../commands.js';
import { shopError } from '../errors.js';
import { streams } from '../events.js';
import { applyToCartTables } from './cart-tables.js';
import { checkOutCart } from './checkout.js';
import { type CartEvent, type CartState, cartDecider, cartView } from './decider.js';

type Handler<C extends CartCommand> = CommandHandler<
  C,
  ShopCommandResults[C['type']] & CommandResult
>;

async function registeredCustomer(sql: Sql, actor: string | undefined): Promise<void> {
  const row =
    actor === undefined
      ? undefined
      : await sql.get('SELECT 1 AS found FROM customers WHERE id = ?', [actor]);
  if (!row) throw coreError('UNAUTHORIZED', 'Only a customer has carts.');
}

/** NOT_FOUND for an unknown product, PRODUCT_INACTIVE for one that is not for sale. */
async function onSale(sql: Sql, productId: string): Promise<void> {
  const product = await sql.get<{ active: unknown }>('SELECT active FROM products WHERE id = ?', [
    productId,
  ]);
  if (!product) throw coreError('NOT_FOUND', 'No such product.', { productId });
  if (Number(product.active) !== 1) {
    throw shopError('PRODUCT_INACTIVE', undefined, { productId });
  }
}

/**
 * Inside each append transaction: the checks the pure decider cannot make (the customer and
 * the products exist), then the level-1 `carts` tables follow the new events.
 *
 * The product is read inside the append transaction rather than before deciding: the
 * transaction is open anyway (no second round trip, no second write-lock turn on SQLite), and
 * the check and the append then see the same catalog. It is a courtesy, not the last word:
 * a product deactivated later still sits in the cart, and checkout refuses it
 * (PRODUCT_INACTIVE) when it prices the order from the catalog.
 */
async function inAppend(
  tx: WriteTx<Sql>,
  { events, context }: Decided<CartState, CartCommand, CartEvent>,
): Promise<void> {
  for (const e of events) {
    if (e.type === 'CartCreated') await registeredCustomer(tx.db, context.metadata.actor);
    if (e.type === 'CartItemAdded') await onSale(tx.db, e.data.productId);
  }
  await applyToCartTables(tx.db, events);
}

const viewOf = (state: CartState) => {
  const view = cartView(state);
  // The decider refused every command on a cart that does not exist, so there is one.
  if (!view) throw new Error('unreachable: a decided cart command on no cart');
  return view;
};

/**
 * The carts' command handlers (level 3): create, add and remove fold the cart's stream, decide
 * and append with the version they read (retrying a lost race a few times); checkout spans the
 * cart's stream and the orders' tables in one transaction (see `checkOutCart`).
 */
export function cartHandlers(store: WriteStore<Sql>): {
  CreateCart: Handler<CreateCart>;
  AddCartItem: Handler<AddCartItem>;
  RemoveCartItem: Handler<RemoveCartItem>;
  CheckOutCart: Handler<CheckOutCart>;
} {
  const streamId = (c: CartCommand) => streams.cart(c.data.cartId);
  return {
    CreateCart: eventSourcedHandler(store, {
      decider: cartDecider,
      streamId,
      inTransaction: inAppend,
      result: (_state, _events, command) => ({ cartId: command.data.cartId }),
    }),
    AddCartItem: eventSourcedHandler(store, {
      decider: cartDecider,
      streamId,
      inTransaction: inAppend,
      result: viewOf,
    }),
    RemoveCartItem: eventSourcedHandler(store, {
      decider: cartDecider,
      streamId,
      inTransaction: inAppend,
      result: viewOf,
    }),
    CheckOutCart: checkOutCart(store),
  };
}
