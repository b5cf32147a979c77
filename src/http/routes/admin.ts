import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { coreError } from '../../core/errors.js';
import type { ProjectionStatus } from '../../core/projector.js';
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
  projectionRoutes(app, deps);
}

/** What the projection routes need: the projector this process runs, and the admin token check. */
export type ProjectionRouteDeps = Pick<AppDeps, 'projections' | 'auth'>;

/**
 * The admin routes that drive this process's projector: status, rebuild, retry, skip. Served by
 * `tworooms serve` (with its projector) and by each `tworooms project` worker (for the
 * projections it owns).
 */
export function projectionRoutes(app: FastifyInstance, deps: ProjectionRouteDeps): void {
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
      return ((await deps.projections?.status()) ?? []).map(statusJson);
    },
  );

  app.post(
    '/api/admin/projections/:name/rebuild',
    {
      schema: {
        tags: ['admin'],
        summary:
          'Rebuild a projection from the event log (blue/green: the live copy serves until the switch)',
        params: NameParams,
        response: { 202: Type.Object({ name: Type.String(), status: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      await requireAdmin(request, deps.auth);
      const { name } = request.params as { name: string };
      const projections = await projectionsFor(deps, name);
      void projections.rebuild(name).catch((err) => request.log.error({ err }, 'rebuild failed'));
      return reply.code(202).send({ name, status: 'rebuilding' });
    },
  );

  app.post(
    '/api/admin/projections/:name/retry',
    {
      schema: {
        tags: ['admin'],
        summary: 'Resume a failed projection: its failing event gets fresh attempts',
        params: NameParams,
        response: { 200: S.ProjectionStatus, ...errors },
      },
    },
    async (request) => {
      await requireAdmin(request, deps.auth);
      const { name } = request.params as { name: string };
      const projections = await projectionsFor(deps, name);
      const before = (await projections.status()).find((s) => s.name === name);
      if (before?.status !== 'failed')
        throw coreError(
          'VALIDATION_FAILED',
          `Projection ${name} has not failed: nothing to retry.`,
        );
      await projections.retry(name);
      return statusJson((await projections.status()).find((s) => s.name === name) ?? before);
    },
  );

  app.post(
    '/api/admin/projections/:name/skip',
    {
      schema: {
        tags: ['admin'],
        summary: 'Resume a failed projection past its failing event (the skip is recorded)',
        params: NameParams,
        body: Type.Object(
          { position: Type.String({ pattern: '^[0-9]{1,19}$' }) },
          { additionalProperties: false },
        ),
        response: { 200: S.ProjectionStatus, ...errors },
      },
    },
    async (request) => {
      await requireAdmin(request, deps.auth);
      const { name } = request.params as { name: string };
      const { position } = request.body as { position: string };
      const projections = await projectionsFor(deps, name);
      await projections.skip(name, BigInt(position));
      const after = (await projections.status()).find((s) => s.name === name);
      if (!after) throw coreError('NOT_FOUND', `No projection named ${name} runs here.`);
      return statusJson(after);
    },
  );
}

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) });

/** This process's projector, if it runs a projection of that name; 404 otherwise. */
async function projectionsFor(deps: ProjectionRouteDeps, name: string) {
  const statuses = (await deps.projections?.status()) ?? [];
  if (!deps.projections || !statuses.some((s) => s.name === name)) {
    const why = deps.projections?.notHere?.(name) ?? `No projection named ${name} runs here.`;
    throw coreError('NOT_FOUND', why, { name });
  }
  return deps.projections;
}

/** A projection's status on the wire: positions as decimal strings, times as ISO strings. */
function statusJson(s: ProjectionStatus) {
  return {
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
    ...(s.generation ? { generation: s.generation } : {}),
    ...(s.skipped?.length
      ? {
          skipped: s.skipped.map((k) => ({
            ...k,
            position: k.position.toString(),
            at: k.at.toISOString(),
          })),
        }
      : {}),
    ...(s.rebuild
      ? {
          rebuild: {
            ...s.rebuild,
            position: s.rebuild.position.toString(),
            headPosition: s.rebuild.headPosition.toString(),
            startedAt: s.rebuild.startedAt.toISOString(),
          },
        }
      : {}),
  };
}
