import type { Decider } from '../../core/decider.js';
import { coreError } from '../../core/errors.js';
import type { CartCommand, CartView } from '../commands.js';
import { shopError } from '../errors.js';
import type { CartCheckedOut, CartCreated, CartItemAdded, CartItemRemoved } from '../events.js';
import { id, invalid } from '../validate.js';

export type CartEvent = CartCreated | CartItemAdded | CartItemRemoved | CartCheckedOut;

export interface CartLine {
  readonly productId: string;
  readonly quantity: number;
}

/** A cart as folded from its stream: `none` until CartCreated. */
export type CartState =
  | { readonly status: 'none' }
  | {
      readonly status: 'open' | 'checked_out';
      readonly cartId: string;
      readonly customerId: string;
      /** In the order each product was first added. */
      readonly lines: readonly CartLine[];
      readonly orderId: string | null;
    };

export type ExistingCart = Exclude<CartState, { status: 'none' }>;

/** Distinct products a cart holds at most (an order takes at most 100 lines). */
export const MAX_CART_LINES = 100;
/** Units of one product a cart holds at most (as an order line's request). */
export const MAX_LINE_QUANTITY = 10_000;

/** The clock reading the bus put in the metadata; a decider never reads the clock itself. */
function timeOf(command: CartCommand): string {
  const now = command.metadata?.now;
  if (!(now instanceof Date))
    throw new Error(`${command.type} needs metadata.now (the bus sets it)`);
  return now.toISOString();
}

/**
 * The cart the actor may touch. A cart that does not exist and another customer's cart look
 * the same, NOT_FOUND: carts are never revealed. A checked-out cart refuses every change.
 */
function ownOpenCart(command: CartCommand, state: CartState): ExistingCart {
  if (state.status === 'none' || state.customerId !== command.metadata?.actor) {
    throw coreError('NOT_FOUND', 'No such cart.', { cartId: command.data.cartId });
  }
  if (state.status === 'checked_out') {
    throw shopError('CART_CLOSED', undefined, {
      cartId: state.cartId,
      orderId: state.orderId,
    });
  }
  return state;
}

function added(lines: readonly CartLine[], productId: string, quantity: number): CartLine[] {
  const i = lines.findIndex((l) => l.productId === productId);
  if (i < 0) return [...lines, { productId, quantity }];
  return lines.map((l, j) => (j === i ? { productId, quantity: l.quantity + quantity } : l));
}

/**
 * The shopping cart, event-sourced (level 3): pure and synchronous. Who asks is
 * `metadata.actor` (the owner is the customer in CartCreated); the time is `metadata.now`.
 * - Adding a product the cart holds adds to its quantity (1 to 10,000 per add, 10,000 per line,
 *   100 products per cart).
 * - Removing a product the cart does not hold changes nothing (no event): a retried DELETE
 *   must not fail, and the caller's intent ("not in my cart") holds.
 * - A checked-out cart refuses any change (CART_CLOSED); an empty cart cannot be checked out
 *   (CART_EMPTY); a cart that is not the actor's is NOT_FOUND.
 * Whether a product exists and is for sale is not the cart's to know: its handler checks the
 * catalog, and checkout prices and reserves through the orders slice.
 */
export const cartDecider: Decider<CartState, CartCommand, CartEvent> = {
  initialState: () => ({ status: 'none' }),

  evolve(state, event) {
    switch (event.type) {
      case 'CartCreated':
        return {
          status: 'open',
          cartId: event.data.cartId,
          customerId: event.data.customerId,
          lines: [],
          orderId: null,
        };
      case 'CartItemAdded':
        if (state.status === 'none') return state;
        return { ...state, lines: added(state.lines, event.data.productId, event.data.quantity) };
      case 'CartItemRemoved':
        if (state.status === 'none') return state;
        return {
          ...state,
          lines: state.lines.filter((l) => l.productId !== event.data.productId),
        };
      case 'CartCheckedOut':
        if (state.status === 'none') return state;
        return { ...state, status: 'checked_out', orderId: event.data.orderId };
      default: {
        const never: never = event;
        return never;
      }
    }
  },

  decide(command, state) {
    const at = timeOf(command);
    switch (command.type) {
      case 'CreateCart': {
        const cartId = id(command.data.cartId, 'cartId');
        const customerId = command.metadata?.actor;
        if (customerId === undefined) throw coreError('UNAUTHORIZED', 'Only a customer has carts.');
        if (state.status !== 'none') throw invalid('A cart with this id already exists.', 'cartId');
        return { type: 'CartCreated', data: { v: 1, cartId, customerId, at } };
      }
      case 'AddCartItem': {
        const cart = ownOpenCart(command, state);
        const productId = id(command.data.productId, 'productId');
        const { quantity } = command.data;
        if (
          typeof quantity !== 'number' ||
          !Number.isSafeInteger(quantity) ||
          quantity < 1 ||
          quantity > MAX_LINE_QUANTITY
        ) {
          throw invalid(
            `quantity must be a whole number from 1 to ${MAX_LINE_QUANTITY}.`,
            'quantity',
          );
        }
        const line = cart.lines.find((l) => l.productId === productId);
        if (!line && cart.lines.length >= MAX_CART_LINES) {
          throw invalid(`A cart holds at most ${MAX_CART_LINES} products.`, 'productId');
        }
        if ((line?.quantity ?? 0) + quantity > MAX_LINE_QUANTITY) {
          throw invalid(`A cart holds at most ${MAX_LINE_QUANTITY} of one product.`, 'quantity');
        }
        return {
          type: 'CartItemAdded',
          data: { v: 1, cartId: cart.cartId, productId, quantity, at },
        };
      }
      case 'RemoveCartItem': {
        const cart = ownOpenCart(command, state);
        const productId = id(command.data.productId, 'productId');
        if (!cart.lines.some((l) => l.productId === productId)) return [];
        return { type: 'CartItemRemoved', data: { v: 1, cartId: cart.cartId, productId, at } };
      }
      case 'CheckOutCart': {
        const cart = ownOpenCart(command, state);
        const orderId = id(command.data.orderId, 'orderId');
        if (cart.lines.length === 0)
          throw shopError('CART_EMPTY', undefined, { cartId: cart.cartId });
        return { type: 'CartCheckedOut', data: { v: 1, cartId: cart.cartId, orderId, at } };
      }
      default: {
        const never: never = command;
        return never;
      }
    }
  },
};

/** What the cart's owner is shown; null before CartCreated. */
export function cartView(state: CartState): CartView | null {
  if (state.status === 'none') return null;
  return {
    cartId: state.cartId,
    status: state.status,
    items: state.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
  };
}
