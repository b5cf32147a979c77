import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { coreError } from '../../core/errors.js';
import { timeOrderedId } from '../../core/ids.js';
import { loadCart } from '../../shop/carts/load.js';
import type { CartView } from '../../shop/commands.js';
import { requireCustomer } from '../auth.js';
import { commandReply, queryHeaders } from '../consistency.js';
import { type AppDeps, answerQuery } from '../deps.js';
import { orderKey } from '../order-id.js';
import * as S from '../schemas.js';

const errors = S.CommandErrors;

const CartItem = Type.Object({ productId: Type.String(), quantity: Type.Integer() });
const Cart = Type.Object({
  cartId: Type.String(),
  status: Type.Union([Type.Literal('open'), Type.Literal('checked_out')]),
  items: Type.Array(CartItem),
  position: S.Position,
});
const CartParams = Type.Object({ id: S.Id });

/** The cart routes: event-sourced carts (level 3) and the checkout that turns one into an order. */
export function cartRoutes(app: FastifyInstance, deps: AppDeps): void {
  const cartReply = (r: CartView & { position: bigint }) => ({
    cartId: r.cartId,
    status: r.status,
    items: r.items,
    position: r.position,
  });

  app.post(
    '/api/carts',
    {
      schema: {
        tags: ['carts'],
        summary: 'Create an empty cart (customer)',
        response: {
          201: Type.Object({ cartId: Type.String(), position: S.Position }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const caller = await requireCustomer(request, deps.auth);
      const r = await deps.commands.dispatch(
        { type: 'CreateCart', data: { cartId: timeOrderedId() } },
        { actor: caller.actor, correlationId: request.id },
      );
      return commandReply(reply, 201, { cartId: r.cartId, position: r.position });
    },
  );

  app.get(
    '/api/carts/:id',
    {
      schema: {
        tags: ['carts'],
        summary: 'One cart, read from its own event stream (its owner; others get 404)',
        params: CartParams,
        querystring: Type.Object(S.ConsistencyQuery, { additionalProperties: false }),
        response: { 200: Cart, ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireCustomer(request, deps.auth);
      const { id } = request.params as { id: string };
      // The head first: the stream read after it reflects at least that position. The cart is
      // its stream (the write model), so there is no read model to wait for.
      const head = await deps.log.headPosition();
      const cart = await loadCart(deps.log, id);
      if (!cart || cart.customerId !== caller.actor) {
        throw coreError('NOT_FOUND', 'No such cart.', { cartId: id });
      }
      queryHeaders(reply, head, false);
      void reply.header('X-Read-Source', 'write-db');
      return { ...cart.view, position: cart.position.toString() };
    },
  );

  app.post(
    '/api/carts/:id/items',
    {
      schema: {
        tags: ['carts'],
        summary: 'Add units of a product to a cart (merged with what it holds)',
        params: CartParams,
        body: Type.Object(
          { productId: S.Id, quantity: Type.Integer({ minimum: 1, maximum: 10_000 }) },
          { additionalProperties: false },
        ),
        response: { 200: Cart, ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireCustomer(request, deps.auth);
      const { id } = request.params as { id: string };
      const { productId, quantity } = request.body as { productId: string; quantity: number };
      const r = await deps.commands.dispatch(
        { type: 'AddCartItem', data: { cartId: id, productId, quantity } },
        { actor: caller.actor, correlationId: request.id },
      );
      return commandReply(reply, 200, cartReply(r));
    },
  );

  app.delete(
    '/api/carts/:id/items/:productId',
    {
      schema: {
        tags: ['carts'],
        summary: 'Remove a product from a cart (a product it does not hold: nothing changes)',
        params: Type.Object({ id: S.Id, productId: S.Id }),
        response: { 200: Cart, ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireCustomer(request, deps.auth);
      const { id, productId } = request.params as { id: string; productId: string };
      const r = await deps.commands.dispatch(
        { type: 'RemoveCartItem', data: { cartId: id, productId } },
        { actor: caller.actor, correlationId: request.id },
      );
      return commandReply(reply, 200, cartReply(r));
    },
  );

  app.post(
    '/api/carts/:id/checkout',
    {
      schema: {
        tags: ['carts'],
        summary: 'Turn a cart into an order, in one transaction (Idempotency-Key required)',
        params: CartParams,
        headers: S.IdempotencyHeaders,
        response: {
          201: Type.Object({
            orderId: Type.String(),
            totalCents: Type.Integer(),
            position: S.Position,
          }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const caller = await requireCustomer(request, deps.auth);
      const { id } = request.params as { id: string };
      const key = request.headers['idempotency-key'] as string;
      const r = await deps.commands.dispatch(
        { type: 'CheckOutCart', data: { cartId: id } },
        {
          actor: caller.actor,
          correlationId: request.id,
          idempotencyKey: orderKey('checkout', caller.actor, key),
        },
      );
      return commandReply(reply, 201, {
        orderId: r.orderId,
        totalCents: r.totalCents,
        position: r.position,
      });
    },
  );

  app.get(
    '/api/customers/me/carts',
    {
      schema: {
        tags: ['carts'],
        summary: "The calling customer's open carts, last changed first",
        querystring: Type.Object(S.ConsistencyQuery, { additionalProperties: false }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                cartId: Type.String(),
                items: Type.Array(CartItem),
                updatedAt: Type.String(),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const caller = await requireCustomer(request, deps.auth);
      return answerQuery(deps, request, reply, {
        type: 'OpenCarts',
        data: { customerId: caller.actor },
      });
    },
  );
}
