import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { coreError } from '../../core/errors.js';
import { timeOrderedId } from '../../core/ids.js';
import { hashToken, requireAnyone, requireCustomer } from '../auth.js';
import { commandReply } from '../consistency.js';
import { type AppDeps, answerQuery } from '../deps.js';
import { orderKey } from '../order-id.js';
import * as S from '../schemas.js';

const errors = S.CommandErrors;

export function customerRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post(
    '/api/customers',
    {
      schema: {
        tags: ['customers'],
        summary: 'Register; answers the bearer token to use from now on',
        body: Type.Object(
          {
            email: Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' }),
            name: Type.String({ minLength: 1, maxLength: 200 }),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            customerId: Type.String(),
            token: Type.String(),
            position: S.Position,
          }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const { email, name } = request.body as { email: string; name: string };
      const token = randomBytes(24).toString('base64url');
      const r = await deps.commands.dispatch(
        {
          type: 'RegisterCustomer',
          data: { customerId: timeOrderedId(), email, name, tokenHash: hashToken(token) },
        },
        { correlationId: request.id },
      );
      return commandReply(reply, 201, { customerId: r.customerId, token, position: r.position });
    },
  );

  app.post(
    '/api/products/:id/reviews',
    {
      schema: {
        tags: ['reviews'],
        summary: 'Review a product (customer)',
        params: Type.Object({ id: S.Id }),
        body: Type.Object(
          {
            rating: Type.Integer({ minimum: 1, maximum: 5 }),
            text: Type.String({ maxLength: 5000 }),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ id: Type.String(), position: S.Position }), ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireCustomer(request, deps.auth);
      const { id } = request.params as { id: string };
      const { rating, text } = request.body as { rating: number; text: string };
      const r = await deps.commands.dispatch(
        { type: 'CreateReview', data: { reviewId: timeOrderedId(), productId: id, rating, text } },
        { actor: caller.actor, correlationId: request.id },
      );
      return commandReply(reply, 201, { id: r.id, position: r.position });
    },
  );

  app.post(
    '/api/orders',
    {
      schema: {
        tags: ['orders'],
        summary: 'Place an order (customer; Idempotency-Key required)',
        headers: S.IdempotencyHeaders,
        body: Type.Object(
          {
            items: Type.Array(
              Type.Object(
                { productId: S.Id, quantity: Type.Integer({ minimum: 1, maximum: 10_000 }) },
                { additionalProperties: false },
              ),
              { minItems: 1, maxItems: 100 },
            ),
          },
          { additionalProperties: false },
        ),
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
      const key = request.headers['idempotency-key'] as string;
      const { items } = request.body as { items: { productId: string; quantity: number }[] };
      const r = await deps.commands.dispatch(
        { type: 'PlaceOrder', data: { items } },
        {
          actor: caller.actor,
          correlationId: request.id,
          idempotencyKey: orderKey('order', caller.actor, key),
        },
      );
      return commandReply(reply, 201, {
        orderId: r.orderId,
        totalCents: r.totalCents,
        position: r.position,
      });
    },
  );

  app.post(
    '/api/orders/:id/cancel',
    {
      schema: {
        tags: ['orders'],
        summary: 'Cancel an order (its owner or an admin); releases its stock',
        params: Type.Object({ id: S.Id }),
        response: { 200: Type.Object({ position: S.Position }), ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireAnyone(request, deps.auth);
      const { id } = request.params as { id: string };
      const r = await deps.commands.dispatch(
        { type: 'CancelOrder', data: { orderId: id } },
        { actor: caller.actor, correlationId: request.id },
      );
      return commandReply(reply, 200, { position: r.position });
    },
  );

  app.get(
    '/api/orders/:id',
    {
      schema: {
        tags: ['orders'],
        summary: 'One order (its owner or an admin; others get 404)',
        params: Type.Object({ id: S.Id }),
        querystring: Type.Object(S.ConsistencyQuery, { additionalProperties: false }),
        response: { 200: S.Order, ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireAnyone(request, deps.auth);
      const { id } = request.params as { id: string };
      const order = await answerQuery(deps, request, reply, {
        type: 'OrderById',
        data: { orderId: id },
      });
      if (!order || (!caller.isAdmin && order.customerId !== caller.actor)) {
        throw coreError('NOT_FOUND', 'No such order.', { orderId: id });
      }
      return order;
    },
  );

  app.get(
    '/api/customers/me/orders',
    {
      schema: {
        tags: ['orders'],
        summary: "The calling customer's orders, newest first",
        querystring: Type.Object(S.ConsistencyQuery, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(S.Order) }), ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireCustomer(request, deps.auth);
      return answerQuery(deps, request, reply, {
        type: 'CustomerOrders',
        data: { customerId: caller.actor },
      });
    },
  );
}
