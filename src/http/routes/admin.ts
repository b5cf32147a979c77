import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { coreError } from '../../core/errors.js';
import { requireAdmin } from '../auth.js';
import { type AppDeps, answerQuery } from '../deps.js';
import * as S from '../schemas.js';

const errors = {
  400: S.ErrorResponse,
  401: S.ErrorResponse,
  403: S.ErrorResponse,
  404: S.ErrorResponse,
};

export function adminRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get(
    '/api/admin/dashboard',
    {
      schema: {
        tags: ['admin'],
        summary: 'Orders and revenue today, low stock, top sellers, recent orders, abandoned carts',
        querystring: Type.Object(
          {
            ...S.ConsistencyQuery,
            now: Type.Optional(
              Type.String({
                pattern:
                  '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d(:\\d\\d(\\.\\d{1,3})?)?(Z|[+-]\\d\\d:\\d\\d)$',
                description: 'The figures as of this ISO time (default: now)',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: S.Dashboard, ...errors },
      },
    },
    async (request, reply) => {
      await requireAdmin(request, deps.auth);
      const { now } = request.query as { now?: string };
      const at = now === undefined ? new Date() : new Date(now);
      if (Number.isNaN(at.getTime())) {
        throw coreError('VALIDATION_FAILED', 'now must be an ISO date-time.', { field: 'now' });
      }
      return answerQuery(deps, request, reply, {
        type: 'AdminDashboard',
        data: { now: at.toISOString() },
      });
    },
  );

  app.get(
    '/api/admin/recently-updated',
    {
      schema: {
        tags: ['admin'],
        summary: 'The 20 most recently changed products',
        querystring: Type.Object(S.ConsistencyQuery, { additionalProperties: false }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                id: Type.String(),
                name: Type.String(),
                priceCents: Type.Integer(),
                updatedAt: Type.String(),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      await requireAdmin(request, deps.auth);
      return answerQuery(deps, request, reply, { type: 'RecentlyUpdated', data: {} });
    },
  );

  app.get(
    '/api/admin/projections',
    {
      schema: {
        tags: ['admin'],
        summary: 'Each projection: version, position, head, lag and state',
        response: { 200: Type.Array(S.ProjectionStatus), ...errors },
      },
    },
    async (request) => {
      await requireAdmin(request, deps.auth);
      const statuses = (await deps.projections?.status()) ?? [];
      return statuses.map((s) => ({
        name: s.name,
        version: s.version,
        position: s.position.toString(),
        headPosition: s.headPosition.toString(),
        lag: s.lag.toString(),
        status: s.status,
        ...(s.failure
          ? {
              failure: {
                ...s.failure,
                position: s.failure.position.toString(),
                at: s.failure.at.toISOString(),
              },
            }
          : {}),
      }));
    },
  );

  app.post(
    '/api/admin/projections/:name/rebuild',
    {
      schema: {
        tags: ['admin'],
        summary: 'Rebuild a projection from the event log',
        params: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 202: Type.Object({ name: Type.String(), status: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      await requireAdmin(request, deps.auth);
      const { name } = request.params as { name: string };
      const statuses = (await deps.projections?.status()) ?? [];
      if (!deps.projections || !statuses.some((s) => s.name === name)) {
        throw coreError('NOT_FOUND', `No projection named ${name} runs here.`, { name });
      }
      void deps.projections
        .rebuild(name)
        .catch((err) => request.log.error({ err }, 'rebuild failed'));
      return reply.code(202).send({ name, status: 'rebuilding' });
    },
  );
}
