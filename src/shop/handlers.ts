import type { CommandHandler, CommandResult } from '../core/command-bus.js';
import type { FullTextIndex } from '../core/full-text.js';
import type { Sql } from '../core/sql.js';
import { stateStoredHandler } from '../core/state-stored.js';
import type { WriteStore } from '../core/write-store.js';
import { cartHandlers } from './carts/handlers.js';
import { catalogHandlers } from './catalog/handlers.js';
import type { ShopCommand, ShopCommandResults } from './commands.js';
import { registerCustomer } from './customers/handlers.js';
import { setStockLevel } from './inventory/handlers.js';
import { cancelOrder, placeOrder } from './orders/handlers.js';
import { createReview } from './reviews/handlers.js';

/** One handler per shop command, typed with the command and its result. */
export type ShopCommandHandlers = {
  readonly [K in ShopCommand['type']]: CommandHandler<
    Extract<ShopCommand, { type: K }>,
    ShopCommandResults[K] & CommandResult
  >;
};

export interface ShopWriteDeps {
  /** The write DB (normalized tables + event log) seen as `Sql`. */
  readonly store: WriteStore<Sql>;
  /** Keeps the write DB's `products_fts` index current (level-1 search). */
  readonly fullText: FullTextIndex;
}

/**
 * The shop's write side: every command's state-stored handler, for `commandBus`.
 * @example
 *   const bus = commandBus(shopCommandHandlers({ store, fullText }), { middleware: [idempotency(store)] });
 *   await bus.dispatch({ type: 'CreateCategory', data: { categoryId: 'c1', name: 'Tea' } }, { actor: ADMIN });
 */
export function shopCommandHandlers(deps: ShopWriteDeps): ShopCommandHandlers {
  const { store } = deps;
  const catalog = catalogHandlers(deps.fullText);
  return {
    CreateCategory: stateStoredHandler(store, catalog.CreateCategory),
    AddProduct: stateStoredHandler(store, catalog.AddProduct),
    UpdateProductPrice: stateStoredHandler(store, catalog.UpdateProductPrice),
    ChangeProductDetails: stateStoredHandler(store, catalog.ChangeProductDetails),
    SetStockLevel: stateStoredHandler(store, setStockLevel),
    RegisterCustomer: stateStoredHandler(store, registerCustomer),
    CreateReview: stateStoredHandler(store, createReview),
    PlaceOrder: stateStoredHandler(store, placeOrder),
    CancelOrder: stateStoredHandler(store, cancelOrder),
    ...cartHandlers(store),
  };
}
