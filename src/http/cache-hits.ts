// Cache hits answered as bytes: a cached answer is serialized once, and a catalog page asked for
// plainly is answered before validation and the handler (the flash sale's hottest request).
import type { FastifyReply, FastifyRequest, preParsingHookHandler } from 'fastify';
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
 * never read, by Fastify or here.)
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

function catalogHit(
  reads: ShopReads,
  request: FastifyRequest,
): { position: bigint; bytes: Buffer } | undefined {
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
  if (after !== undefined && (typeof after !== 'string' || !TOKEN.test(after))) return undefined;
  const answer = reads.cached<'CatalogPage'>(
    pageKey(category, Number(page)),
    after === undefined ? undefined : BigInt(after),
    (value) => sentBytes.has(value),
  );
  const bytes = answer && sentBytes.get(answer.value);
  return bytes && { position: answer.position, bytes };
}
