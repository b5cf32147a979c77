// Cache hits answered as bytes: a cached answer is serialized once, and a catalog page asked for
// plainly is answered before validation and the handler (the flash sale's hottest request).
import { createServer, type IncomingMessage } from 'node:http';
import type {
  FastifyReply,
  FastifyRequest,
  FastifyServerFactory,
  preParsingHookHandler,
} from 'fastify';
import { pageKey } from '../shop/cache-tags.js';
import type { ShopReads } from '../shop/reads.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** The JSON bytes a cached answer was first sent as, by answer object (an in-process cache hit). */
const sentBytes = new WeakMap<object, Buffer>();

/** Sends a cached answer as the bytes its response schema serialized it to, once per object. */
export function sendCached(reply: FastifyReply, value: object): FastifyReply {
  let bytes = sentBytes.get(value);
  if (!bytes) {
    bytes = Buffer.from(reply.serialize(value) as string);
    sentBytes.set(value, bytes);
  }
  return reply.type(JSON_TYPE).send(bytes);
}

// The parameters of a page answered early, each in the one form the validated path would read
// the same way (S.Id; S.Page as `String(page)` writes it; a consistency token). Any other form,
// valid or not, takes the validated path, which answers or refuses it as it always has.
const ID = /^[A-Za-z0-9_-]{1,100}$/;
const PAGE = /^(?:[1-9]\d{0,4}|100000)$/;
const TOKEN = /^\d{1,19}$/;

/**
 * A `preParsing` hook for `GET /api/catalog`: a page the in-process cache holds, with no
 * consistency token it does not already reflect, is answered with the bytes the handler first
 * sent that very cached answer as, and the headers it sent with them — no validation, handler or
 * promise. Anything else goes on to the validated path unchanged: a parameter it does not know or
 * in another form, a token to wait for, a page not yet sent from the cache (the handler answers a
 * missing category's empty page with 404 and never sends it). Hooks before it (rate limiting, on
 * `onRequest`) and after a reply (the HTTP metric on `onResponse`) still run. (A GET's body is
 * never read, by Fastify or here.) Where no rate limit is set, `earlyCatalogServer` answers the
 * same pages sooner still; this hook answers what reaches Fastify (`inject`, a rate limit).
 */
export function cachedCatalogPage(reads: ShopReads): preParsingHookHandler {
  return (request, reply, _payload, done) => {
    const hit = request.method === 'GET' ? catalogHit(reads, request) : undefined;
    if (!hit) return done();
    void reply
      .header('X-Read-Model-Position', hit.position.toString())
      .header('X-Read-Source', 'cache')
      .type(JSON_TYPE)
      .send(hit.bytes);
  };
}

interface Hit {
  readonly position: bigint;
  readonly bytes: Buffer;
}

function catalogHit(reads: ShopReads, request: FastifyRequest): Hit | undefined {
  let category: string | undefined;
  let page = '1';
  let after: unknown = request.headers['x-consistency-token'];
  const query = request.query as Record<string, unknown>;
  for (const name in query) {
    const value = query[name];
    if (typeof value !== 'string') return undefined;
    if (name === 'category' && ID.test(value)) category = value;
    else if (name === 'page' && PAGE.test(value)) page = value;
    // `?after=` wins over the header, as in consistencyOf
    else if (name === 'after') after = value;
    else return undefined;
  }
  return pageHit(reads, category, page, after);
}

/** The cached page's bytes, if this process holds it as sent and it reflects `after`. */
function pageHit(
  reads: ShopReads,
  category: string | undefined,
  page: string,
  after: unknown,
): Hit | undefined {
  if (after !== undefined && (typeof after !== 'string' || !TOKEN.test(after))) return undefined;
  const answer = reads.cached<'CatalogPage'>(
    pageKey(category, Number(page)),
    after === undefined ? undefined : BigInt(after),
    (value) => sentBytes.has(value),
  );
  const bytes = answer && sentBytes.get(answer.value);
  return bytes && { position: answer.position, bytes };
}

const PATH = '/api/catalog';

/**
 * The same early answer read off the raw request: the path exactly `/api/catalog`, then nothing
 * or `?` and `name=value` pairs, each name once, each value in its one plain form (no escapes,
 * so nothing to decode), and no request body. Anything else is left to Fastify.
 */
function rawCatalogHit(reads: ShopReads, req: IncomingMessage): Hit | undefined {
  const url = req.url;
  if (req.method !== 'GET' || url === undefined || !url.startsWith(PATH)) return undefined;
  if (url.length > PATH.length && url.charCodeAt(PATH.length) !== 63 /* ? */) return undefined;
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)
    return undefined;
  let category: string | undefined;
  let page: string | undefined;
  let after: string | undefined;
  const query = url.slice(PATH.length + 1);
  if (query.length > 0) {
    for (const pair of query.split('&')) {
      const eq = pair.indexOf('=');
      if (eq < 0) return undefined;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (name === 'category' && category === undefined && ID.test(value)) category = value;
      else if (name === 'page' && page === undefined && PAGE.test(value)) page = value;
      else if (name === 'after' && after === undefined) after = value;
      else return undefined;
    }
  }
  return pageHit(reads, category, page ?? '1', after ?? req.headers['x-consistency-token']);
}

/**
 * A Fastify `serverFactory`: the HTTP server whose request event answers the catalog pages the
 * in-process cache holds as sent (exactly what `cachedCatalogPage` answers, with the same bytes
 * and headers) before Fastify routes the request, builds its request and reply, and runs its
 * hooks; every other request goes to Fastify. The flash sale's hottest request then costs about
 * what a bare Node route does. Such an answer is still observed by `observe` (the HTTP metric,
 * as the `onResponse` hook observes the rest) and counted as a cache hit; where a rate limit
 * must count requests first, leave this out and the `preParsing` hook answers them (after the
 * limit). The server takes Fastify's timeouts as Fastify's own would.
 */
export function earlyCatalogServer(
  reads: ShopReads,
  observe?: (method: string, route: string, status: number, seconds: number) => void,
): FastifyServerFactory {
  return (handler, options) => {
    const server = createServer(options.http ?? {}, (req, res) => {
      const start = performance.now();
      const hit = rawCatalogHit(reads, req);
      if (!hit) return handler(req, res);
      res.writeHead(200, [
        'x-read-model-position',
        hit.position.toString(),
        'x-read-source',
        'cache',
        'content-type',
        JSON_TYPE,
        'content-length',
        String(hit.bytes.length),
      ]);
      res.end(hit.bytes);
      observe?.('GET', PATH, 200, (performance.now() - start) / 1000);
    });
    const { keepAliveTimeout, requestTimeout, connectionTimeout, maxRequestsPerSocket } = options;
    if (typeof keepAliveTimeout === 'number') server.keepAliveTimeout = keepAliveTimeout;
    if (typeof requestTimeout === 'number') server.requestTimeout = requestTimeout;
    if (typeof connectionTimeout === 'number') server.setTimeout(connectionTimeout);
    if (typeof maxRequestsPerSocket === 'number' && maxRequestsPerSocket > 0)
      server.maxRequestsPerSocket = maxRequestsPerSocket;
    return server;
  };
}
