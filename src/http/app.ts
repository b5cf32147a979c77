import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Ajv from 'ajv';
import Fastify, { type FastifyInstance } from 'fastify';
import { coreError } from '../core/errors.js';
import { earlyCatalogServer } from './cache-hits.js';
import type { AppDeps } from './deps.js';
import { errorBody, installErrorHandler } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { cartRoutes } from './routes/carts.js';
import { catalogRoutes } from './routes/catalog.js';
import { customerRoutes } from './routes/customers.js';
import { systemRoutes } from './routes/system.js';

export type { AppDeps } from './deps.js';

/** The routes that need no token; every other route needs the admin's or a customer's. */
const PUBLIC_ROUTES = new Set([
  'GET /api/categories',
  'GET /api/catalog',
  'GET /api/products/:id',
  'GET /api/search',
  'POST /api/customers',
  'GET /health',
  'GET /metrics',
]);

/** Bodies are checked strictly (no coercion: a string is not a number); query strings and params are coerced. */
export function validators() {
  const common = {
    allErrors: false,
    strict: false,
    removeAdditional: false as const,
    useDefaults: true,
  };
  const body = new Ajv.default({ ...common, coerceTypes: false });
  const url = new Ajv.default({ ...common, coerceTypes: true });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? body : url).compile(schema);
}

/**
 * The shop's HTTP API (see docs/api.md), kept apart from `listen` so tests use `app.inject()`.
 * @example const app = await buildApp(deps); await app.listen({ port: 3000 });
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: 1024 * 1024,
    // Never let a slow client hold a socket forever.
    requestTimeout: 30_000,
    ajv: { customOptions: { removeAdditional: false } },
    // Cached catalog pages are answered from the server's request event, before routing (unless
    // a rate limit has to count them first: then the route's preParsing hook answers them).
    ...(deps.rateLimitPerMinute && deps.rateLimitPerMinute > 0
      ? {}
      : { serverFactory: earlyCatalogServer(deps.reads, deps.onResponse) }),
  });
  app.setValidatorCompiler(validators());
  installErrorHandler(app);
  // A route without a body schema takes no body: anything sent is refused, never ignored.
  // (Callback-style hooks: no promise per request on the hot read paths.)
  app.addHook('preValidation', (request, _reply, done) => {
    const body = request.body as unknown;
    if (
      request.routeOptions.schema?.body !== undefined ||
      body === undefined ||
      body === null ||
      (typeof body === 'object' && Object.keys(body).length === 0)
    )
      return done();
    done(coreError('VALIDATION_FAILED', 'This route takes no body.'));
  });
  const { onResponse } = deps;
  if (onResponse) {
    app.addHook('onResponse', (request, reply, done) => {
      onResponse(
        request.method,
        request.routeOptions.url ?? 'unknown',
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
      done();
    });
  }
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'tworooms shop',
        version: '0.1.0',
        description:
          'Commands answer their event-log position (body `position`, header `X-Consistency-Token`); queries accept it (header or `?after=`) and wait for the read model, answering `X-Read-Model-Position` and, when they gave up waiting, `X-Read-Model-Stale: true`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ bearer: [] }],
    },
    // Routes anyone may call say so (`security: []`); the rest need a bearer token.
    transform: ({ schema, url, route }) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const open = methods.some((m) => PUBLIC_ROUTES.has(`${m} ${url}`));
      return { schema: open ? { ...schema, security: [] } : schema, url } as never;
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  if (deps.rateLimitPerMinute && deps.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      max: deps.rateLimitPerMinute,
      timeWindow: 60_000,
      errorResponseBuilder: (_request, context) => ({
        statusCode: 429,
        ...errorBody(
          'RATE_LIMITED',
          `Too many requests; retry in ${Math.ceil(context.ttl / 1000)} s.`,
        ),
      }),
    });
  }
  catalogRoutes(app, deps);
  customerRoutes(app, deps);
  cartRoutes(app, deps);
  adminRoutes(app, deps);
  systemRoutes(app, deps);
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  return app;
}
