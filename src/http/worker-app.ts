import Fastify, { type FastifyInstance } from 'fastify';
import { validators } from './app.js';
import type { AppDeps } from './deps.js';
import { installErrorHandler } from './errors.js';
import { projectionRoutes } from './routes/admin.js';
import { systemRoutes } from './routes/system.js';

/** What a projector worker's HTTP endpoint needs. */
export interface WorkerAppDeps {
  /** The projections this worker owns now (a standby owns none). */
  readonly projections: NonNullable<AppDeps['projections']>;
  readonly adminToken: string;
  readonly metrics: AppDeps['metrics'];
  readonly onResponse?: AppDeps['onResponse'];
  readonly logger?: AppDeps['logger'];
}

/**
 * The HTTP endpoint of a `tworooms project` worker: `GET /health` and `GET /metrics` (its
 * projections' states, lag and throughput), and the admin projection routes (status, rebuild,
 * retry, skip) that `tworooms rebuild|retry|skip --url` drive. No shop routes: commands and
 * queries go to `tworooms serve`.
 */
export async function buildWorkerApp(deps: WorkerAppDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: deps.logger ?? false, bodyLimit: 64 * 1024 });
  app.setValidatorCompiler(validators());
  installErrorHandler(app);
  const { onResponse } = deps;
  if (onResponse) {
    app.addHook('onResponse', async (request, reply) => {
      onResponse(
        request.method,
        request.routeOptions.url ?? 'unknown',
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
    });
  }
  projectionRoutes(app, {
    projections: deps.projections,
    // Customers have no business with a worker: only the admin token is known here.
    auth: { adminToken: deps.adminToken, customerByTokenHash: async () => undefined },
  });
  systemRoutes(app, {
    projections: deps.projections,
    readMode: 'read-model',
    metrics: deps.metrics,
  });
  return app;
}
