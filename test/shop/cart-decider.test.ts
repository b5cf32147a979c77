// The cart's rules, given / when / then on the pure decider (no store, no clock).
import { describe, expect, it } from 'vitest';
import { fold } from '../../src/core/index.js';
import { deciderSpec } from '../../src/core/testing/index.js';
import {
  type CartEvent,
  cartDecider,
  cartView,
  MAX_CART_LINES,
  MAX_LINE_QUANTITY,
} from '../../src/shop/carts/decider.js';
import type { CartCommand } from '../../src/shop/commands.js';

const spec = deciderSpec(cartDecider);
const NOW = new Date('2026-03-01T10:00:00.000Z');
const at = NOW.toISOString();
const T = '2026-03-01T09:00:00.000Z';
const ANN = 'cu-ann';
const BOB = 'cu-bob';

/** A command as the bus hands it to the decider: the actor and the clock in its metadata. */
function as<C extends CartCommand>(actor: string | undefined, command: Omit<C, 'metadata'>): C {
  return { ...command, metadata: { now: NOW, ...(actor === undefined ? {} : { actor }) } } as C;
}

const created: CartEvent = {
  type: 'CartCreated',
  data: { v: 1, cartId: 'k1', customerId: ANN, at: T },
};
const addedTea = (quantity: number, when = T): CartEvent => ({
  type: 'CartItemAdded',
  data: { v: 1, cartId: 'k1', productId: 'tea', quantity, at: when },
});
const addedCup: CartEvent = {
  type: 'CartItemAdded',
  data: { v: 1, cartId: 'k1', productId: 'cup', quantity: 1, at: T },
};
const removedTea: CartEvent = {
  type: 'CartItemRemoved',
  data: { v: 1, cartId: 'k1', productId: 'tea', at: T },
};
const checkedOut: CartEvent = {
  type: 'CartCheckedOut',
  data: { v: 1, cartId: 'k1', orderId: 'o1', at: T },
};

const add = (actor: string | undefined, productId: string, quantity: number) =>
  as(actor, { type: 'AddCartItem', data: { cartId: 'k1', productId, quantity } });
const remove = (actor: string | undefined, productId: string) =>
  as(actor, { type: 'RemoveCartItem', data: { cartId: 'k1', productId } });
const checkOut = (actor: string | undefined, orderId = 'o1') =>
  as(actor, { type: 'CheckOutCart', data: { cartId: 'k1', orderId } });
const create = (actor: string | undefined) =>
  as(actor, { type: 'CreateCart', data: { cartId: 'k1' } });

describe('cart decider: creating', () => {
  it("a customer creates a cart they own, at the bus's time", () => {
    spec
      .given([])
      .when(create(ANN))
      .thenEvents({ type: 'CartCreated', data: { v: 1, cartId: 'k1', customerId: ANN, at } });
  });

  it('needs an actor, and refuses an id that is taken', () => {
    spec.given([]).when(create(undefined)).thenThrows('UNAUTHORIZED');
    spec.given([created]).when(create(ANN)).thenThrows('VALIDATION_FAILED');
    spec.given([created]).when(create(BOB)).thenThrows('VALIDATION_FAILED');
  });

  it('takes its time from metadata only: without `now` it is a bug, not a clock read', () => {
    expect(() =>
      cartDecider.decide(
        { type: 'CreateCart', data: { cartId: 'k1' }, metadata: { actor: ANN } },
        cartDecider.initialState(),
      ),
    ).toThrow(/metadata\.now/);
  });
});

describe('cart decider: items', () => {
  it('adds an item', () => {
    spec
      .given([created])
      .when(add(ANN, 'tea', 2))
      .thenEvents({
        type: 'CartItemAdded',
        data: { v: 1, cartId: 'k1', productId: 'tea', quantity: 2, at },
      });
  });

  it('merges the quantity of repeated adds, keeping the first-added order', () => {
    const state = fold(cartDecider, [created, addedTea(2), addedCup, addedTea(3)]);
    expect(cartView(state)).toEqual({
      cartId: 'k1',
      status: 'open',
      items: [
        { productId: 'tea', quantity: 5 },
        { productId: 'cup', quantity: 1 },
      ],
    });
    // Removed then added again: the line starts over, last.
    const again = fold(cartDecider, [created, addedTea(2), addedCup, removedTea, addedTea(1)]);
    expect(cartView(again)?.items).toEqual([
      { productId: 'cup', quantity: 1 },
      { productId: 'tea', quantity: 1 },
    ]);
  });

  it('refuses a quantity that is not a whole number from 1 to 10,000', () => {
    for (const quantity of [0, -1, 1.5, MAX_LINE_QUANTITY + 1, Number.NaN]) {
      spec
        .given([created])
        .when(add(ANN, 'tea', quantity))
        .thenThrows('VALIDATION_FAILED');
    }
    spec
      .given([created])
      .when(add(ANN, 'tea', '2' as unknown as number))
      .thenThrows('VALIDATION_FAILED');
    spec
      .given([created])
      .when(add(ANN, 'tea', MAX_LINE_QUANTITY))
      .thenEvents(addedTea(MAX_LINE_QUANTITY, at));
  });

  it('refuses a line above 10,000 units and a cart above 100 products', () => {
    spec
      .given([created, addedTea(MAX_LINE_QUANTITY - 1)])
      .when(add(ANN, 'tea', 2))
      .thenThrows('VALIDATION_FAILED');
    spec
      .given([created, addedTea(MAX_LINE_QUANTITY - 1)])
      .when(add(ANN, 'tea', 1))
      .thenEvents(addedTea(1, at));
    const full: CartEvent[] = [created];
    for (let i = 0; i < MAX_CART_LINES; i++) {
      full.push({
        type: 'CartItemAdded',
        data: { v: 1, cartId: 'k1', productId: `p${i}`, quantity: 1, at: T },
      });
    }
    spec
      .given(full)
      .when(add(ANN, 'another', 1))
      .thenThrows('VALIDATION_FAILED');
    // A product already in the full cart can still grow.
    spec
      .given(full)
      .when(add(ANN, 'p0', 1))
      .thenEvents({
        type: 'CartItemAdded',
        data: { v: 1, cartId: 'k1', productId: 'p0', quantity: 1, at },
      });
  });

  it('refuses an empty or overlong product id', () => {
    spec
      .given([created])
      .when(add(ANN, '', 1))
      .thenThrows('VALIDATION_FAILED');
    spec
      .given([created])
      .when(add(ANN, 'x'.repeat(201), 1))
      .thenThrows('VALIDATION_FAILED');
  });

  it('removes a line', () => {
    spec
      .given([created, addedTea(2), addedCup])
      .when(remove(ANN, 'tea'))
      .thenEvents({ type: 'CartItemRemoved', data: { v: 1, cartId: 'k1', productId: 'tea', at } });
    expect(cartView(fold(cartDecider, [created, addedTea(2), removedTea]))?.items).toEqual([]);
  });

  it('removing a product the cart does not hold changes nothing (no event)', () => {
    spec.given([created]).when(remove(ANN, 'tea')).thenNothingHappens();
    spec
      .given([created, addedTea(1), removedTea])
      .when(remove(ANN, 'tea'))
      .thenNothingHappens();
  });
});

describe('cart decider: checkout', () => {
  it('checks out a cart with items, naming the order', () => {
    spec
      .given([created, addedTea(2)])
      .when(checkOut(ANN, 'o9'))
      .thenEvents({ type: 'CartCheckedOut', data: { v: 1, cartId: 'k1', orderId: 'o9', at } });
    expect(cartView(fold(cartDecider, [created, addedTea(2), checkedOut]))?.status).toBe(
      'checked_out',
    );
  });

  it('refuses an empty cart with CART_EMPTY, also one emptied by removals', () => {
    spec.given([created]).when(checkOut(ANN)).thenThrows('CART_EMPTY');
    spec
      .given([created, addedTea(1), removedTea])
      .when(checkOut(ANN))
      .thenThrows('CART_EMPTY');
  });

  it('refuses a checkout without an order id', () => {
    spec
      .given([created, addedTea(1)])
      .when(checkOut(ANN, ''))
      .thenThrows('VALIDATION_FAILED');
  });

  it('a checked-out cart refuses every change with CART_CLOSED', () => {
    const closed = [created, addedTea(2), checkedOut];
    spec
      .given(closed)
      .when(add(ANN, 'cup', 1))
      .thenThrows('CART_CLOSED');
    spec.given(closed).when(remove(ANN, 'tea')).thenThrows('CART_CLOSED');
    // Even a removal that would change nothing: the cart is closed.
    spec.given(closed).when(remove(ANN, 'nothing')).thenThrows('CART_CLOSED');
    spec.given(closed).when(checkOut(ANN, 'o2')).thenThrows('CART_CLOSED');
    spec.given(closed).when(checkOut(ANN, 'o1')).thenThrows('CART_CLOSED');
  });
});

describe('cart decider: only the owner', () => {
  it('another customer, an admin or nobody is told NOT_FOUND, whatever the cart holds', () => {
    for (const history of [[created], [created, addedTea(1)], [created, addedTea(1), checkedOut]]) {
      for (const actor of [BOB, 'admin', undefined]) {
        spec
          .given(history)
          .when(add(actor, 'tea', 1))
          .thenThrows('NOT_FOUND');
        spec.given(history).when(remove(actor, 'tea')).thenThrows('NOT_FOUND');
        spec.given(history).when(checkOut(actor)).thenThrows('NOT_FOUND');
      }
    }
  });

  it("a cart that does not exist is NOT_FOUND, as someone else's is", () => {
    spec
      .given([])
      .when(add(ANN, 'tea', 1))
      .thenThrows('NOT_FOUND');
    spec.given([]).when(remove(ANN, 'tea')).thenThrows('NOT_FOUND');
    spec.given([]).when(checkOut(ANN)).thenThrows('NOT_FOUND');
    expect(cartView(cartDecider.initialState())).toBeNull();
  });

  it('the owner check comes before every other rule (nothing is revealed)', () => {
    spec
      .given([created])
      .when(add(BOB, 'tea', 0))
      .thenThrows('NOT_FOUND');
    spec.given([created]).when(checkOut(BOB)).thenThrows('NOT_FOUND'); // not CART_EMPTY
    spec
      .given([created, addedTea(1), checkedOut])
      .when(add(BOB, 'tea', 1))
      .thenThrows('NOT_FOUND');
  });
});
