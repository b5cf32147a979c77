import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppDeps } from '../deps.js';

export function systemRoutes(
  app: FastifyInstance,
  deps: Pick<AppDeps, 'projections' | 'readMode' | 'metrics'>,
): void {
  app.get(
    '/health',
    {
      schema: {
        tags: ['system'],
        summary: 'Liveness, read mode and projection states',
        response: {
          200: Type.Object({
            status: Type.String(),
            readMode: Type.String(),
            projections: Type.Array(
              Type.Object({ name: Type.String(), status: Type.String(), lag: Type.String() }),
            ),
          }),
        },
      },
    },
    async () => {
      const statuses = (await deps.projections?.status()) ?? [];
      return {
        status: statuses.some((s) => s.status === 'failed') ? 'degraded' : 'ok',
        readMode: deps.readMode,
        projections: statuses.map((s) => ({
          name: s.name,
          status: s.status,
          lag: s.lag.toString(),
        })),
      };
    },
  );

  app.get(
    '/metrics',
    { schema: { tags: ['system'], summary: 'Prometheus metrics' } },
    async (_request, reply) => {
      void reply.header('Content-Type', deps.metrics.contentType);
      return deps.metrics.metrics();
    },
  );
}
