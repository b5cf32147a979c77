// End to end over real HTTP: a catalog page the in-process cache holds is answered before
// validation and the handler (src/http/cache-hits.ts) with the handler's very bytes and headers,
// counted in the metrics and behind the rate limit; whatever that early answer does not know
// still takes the validated path: bad input is refused as before, a token to wait for waits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Shop } from '../../src/main.js';
import { MODES, type Reply, startShop, type TestShop } from './harness.js';
import { expectError, expectNoServerErrors, expectQuery, ShopModel } from './helpers.js';

/**
 * Counts the catalog requests that reach validation (the early answers skip it), and those that
 * reach Fastify at all (`routed`: the answers from the server's request event skip that too).
 */
function watchValidation(seen: string[], routed: string[] = []) {
  return (shop: Shop) => {
    shop.app.addHook('onRequest', (request, _reply, done) => {
      if (request.url.startsWith('/api/catalog')) routed.push(request.url);
      done();
    });
    shop.app.addHook('preValidation', (request, _reply, done) => {
      if (request.url.startsWith('/api/catalog')) seen.push(request.url);
      done();
    });
  };
}

/** The answer as a client sees it, but for the headers that name the moment. */
const wire = async (r: Promise<Reply>) => {
  const reply = await r;
  const headers = Object.fromEntries([...reply.headers].filter(([k]) => k !== 'date'));
  return { status: reply.status, headers, body: JSON.stringify(reply.body) };
};

describe.each(MODES)('cached catalog pages answered early (%s, %s)', (mode, stack) => {
  // Read-model mode answers before validation on both stacks: from the in-process cache
  // (embedded) or from the near layer in front of Redis (production, TWOROOMS_CACHE_NEAR on).
  const early = mode === 'read-model';
  const validated: string[] = [];
  const routed: string[] = [];
  let t: TestShop;
  let m: ShopModel;
  let fruit: string;
  let apple: string;
  let path: string;

  /** How many catalog requests `requests` made reached validation. */
  const validating = async (requests: () => Promise<unknown>) => {
    const before = validated.length;
    await requests();
    return validated.length - before;
  };
  /** Reads `path` until the cache holds it and has sent it once from the handler. */
  const warm = async (p = path) => {
    await t.read(p);
    await t.request('GET', p);
  };

  beforeAll(async () => {
    // A short wait for tokens the read model never reaches.
    t = await startShop(mode, { TWOROOMS_WAIT_MS: '300' }, stack, {
      beforeListen: watchValidation(validated, routed),
    });
    m = new ShopModel(t);
    fruit = await m.category('Fruit');
    apple = await m.product({ sku: 'APPLE', name: 'Apple', categoryId: fruit, priceCents: 100 });
    await m.product({ sku: 'PEAR', name: 'Pear', categoryId: fruit, priceCents: 120 });
    await m.stock(apple, 10);
    path = `/api/catalog?category=${fruit}&page=1`;
  });

  afterAll(async () => {
    await t?.close();
  });

  it("a page read a third time answers the handler's bytes and headers, without validation", async () => {
    const replies: Awaited<ReturnType<typeof wire>>[] = [];
    const checked = await validating(async () => {
      replies.push(await wire(t.read(path))); // read-model mode: a miss, cached
      replies.push(await wire(t.request('GET', path))); // sent from the cache by the handler
      replies.push(await wire(t.request('GET', path))); // early, where the cache allows
      replies.push(await wire(t.request('GET', path)));
    });
    expect(checked).toBe(early ? 2 : 4);
    const [first, second, third, fourth] = replies;
    expect(JSON.parse(first!.body)).toEqual(m.page(fruit));
    for (const r of [second, third, fourth]) expect(r).toEqual(second);
    expect(third!.body).toBe(first!.body);
    expect(third!.headers).toEqual({
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(first!.body)),
      'x-read-model-position': first!.headers['x-read-model-position'],
      'x-read-source': mode === 'read-model' ? 'cache' : 'write-db',
      connection: 'keep-alive',
      'keep-alive': expect.stringMatching(/^timeout=\d+$/),
    });
  });

  it('with no rate limit, a cached page is answered before Fastify routes the request', async () => {
    await warm();
    const before = { routed: routed.length, validated: validated.length };
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await wire(t.request('GET', path)));
    replies.push(await wire(t.request('GET', `/api/catalog?page=1&category=${fruit}`)));
    for (const r of replies) expect(r).toEqual(replies[0]);
    expect(JSON.parse(replies[0]!.body)).toEqual(m.page(fruit));
    expect(routed.length - before.routed).toBe(early ? 0 : 4);
    expect(validated.length - before.validated).toBe(early ? 0 : 4);
    // What the early answer does not take reaches Fastify: another form, a HEAD, a bad page.
    const others = routed.length;
    expectQuery(await t.request('GET', `${path}&`));
    expect((await t.request('HEAD', path)).status).toBe(200);
    expectError(await t.request('GET', `${path}&page=2`), 400, 'VALIDATION_FAILED');
    expect(routed.length - others).toBe(3);
  });

  it('early answers count in the HTTP metric and as cache hits', async () => {
    await warm();
    const sample = async (series: string) => {
      const text = (await t.request('GET', '/metrics')).body as string;
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return Number(line?.slice(series.length + 1) ?? 0);
    };
    const ok =
      'tworooms_http_request_duration_seconds_count{method="GET",route="/api/catalog",status="200"}';
    const before = {
      ok: await sample(ok),
      hits: await sample('tworooms_cache_hits_total'),
      misses: await sample('tworooms_cache_misses_total'),
    };
    const checked = await validating(async () => {
      for (let i = 0; i < 5; i++) expectQuery(await t.request('GET', path));
    });
    expect(checked).toBe(early ? 0 : 5);
    expect(await sample(ok)).toBe(before.ok + 5);
    if (mode === 'read-model') {
      expect(await sample('tworooms_cache_hits_total')).toBe(before.hits + 5);
      expect(await sample('tworooms_cache_misses_total')).toBe(before.misses);
    }
  });

  it('anything else about a cached page takes the validated path and answers as before', async () => {
    const base = `/api/catalog?category=${fruit}`;
    await warm(`${base}&page=1`);
    await warm('/api/catalog');
    const page1 = JSON.stringify(m.page(fruit));
    const same = async (r: Promise<Reply>) =>
      expect(JSON.stringify(expectQuery(await r))).toBe(page1);
    const invalid = async (r: Promise<Reply>, details?: unknown) =>
      expectError(await r, 400, 'VALIDATION_FAILED', details);
    const cases: [string, () => Promise<void>][] = [
      ['page in another form', () => same(t.request('GET', `${base}&page=01`))],
      ['page twice', () => invalid(t.request('GET', `${base}&page=1&page=1`))],
      ['page 0', () => invalid(t.request('GET', `${base}&page=0`))],
      ['page abc', () => invalid(t.request('GET', `${base}&page=abc`))],
      // `*` names the all-products listing in cache keys, never a category.
      ['category *', () => invalid(t.request('GET', '/api/catalog?category=*&page=1'))],
      ['unknown parameter', () => invalid(t.request('GET', `${base}&page=1&sort=price`))],
      ['a wait', () => same(t.request('GET', `${base}&page=1&wait=100`))],
      ['a bad wait', () => invalid(t.request('GET', `${base}&page=1&wait=abc`))],
      ['a fallback', () => same(t.request('GET', `${base}&page=1&fallback=write-db`))],
      ['a bad ?after=', () => invalid(t.request('GET', `${base}&page=1&after=abc`))],
      [
        'a bad token header',
        () =>
          invalid(
            t.request('GET', `${base}&page=1`, { headers: { 'x-consistency-token': 'abc' } }),
            { token: 'abc' },
          ),
      ],
    ];
    for (const [what, run] of cases) {
      expect(await validating(run), what).toBe(1);
    }
  });

  it('a category that does not exist is 404 however often it is asked for (its empty page is never sent)', async () => {
    const missing = '/api/catalog?category=no-such-category&page=1';
    const checked = await validating(async () => {
      for (let i = 0; i < 3; i++)
        expectError(await t.request('GET', missing), 404, 'NOT_FOUND', {
          categoryId: 'no-such-category',
        });
    });
    expect(checked).toBe(3);
  });

  it('a token the cached page does not reflect waits for the read model (header or ?after=)', async () => {
    await warm();
    // Read-your-writes: the first read with the price change's token shows the new price.
    const position = await m.price(apple, 105);
    const replies: Reply[] = [];
    expect(
      await validating(async () => {
        replies.push(
          await t.request('GET', path, { headers: { 'x-consistency-token': position } }),
        );
        replies.push(await t.request('GET', `${path}&after=${position}`));
      }),
    ).toBe(2);
    for (const r of replies) {
      expect(expectQuery(r)).toEqual(m.page(fruit));
      expect(BigInt(r.headers.get('x-read-model-position')!)).toBeGreaterThanOrEqual(
        BigInt(position),
      );
    }
    // A token beyond the log's head: the read model cannot reach it, so the answer comes after
    // the wait (300 ms here), marked stale — never at once from the cache.
    await warm();
    const ahead = (BigInt(position) + 1000n).toString();
    const beyond: Reply[] = [];
    expect(
      await validating(async () => {
        beyond.push(await t.request('GET', path, { headers: { 'x-consistency-token': ahead } }));
        beyond.push(await t.request('GET', `${path}&after=${ahead}`));
      }),
    ).toBe(2);
    for (const r of beyond) {
      expect(expectQuery(r)).toEqual(m.page(fruit));
      expect(r.headers.get('x-read-model-stale')).toBe(mode === 'read-model' ? 'true' : null);
    }
    // A token the cached page reflects needs no wait: answered early.
    const reflected = await validating(async () => {
      expectQuery(await t.request('GET', path, { headers: { 'x-consistency-token': position } }));
      expectQuery(await t.request('GET', `${path}&after=${position}`));
    });
    expect(reflected).toBe(early ? 0 : 2);
  });

  it('answered no 5xx and no stack trace', () => {
    expectNoServerErrors(t);
  });
});

describe('cached catalog pages answered early stay behind the rate limit', () => {
  let t: TestShop;
  const validated: string[] = [];

  beforeAll(async () => {
    t = await startShop('read-model', { TWOROOMS_RATE_LIMIT: '5' }, 'sqlite', {
      beforeListen: watchValidation(validated),
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('the limit counts them, and refuses the next request with 429', async () => {
    // The empty all-products listing: cached, sent from the cache, then answered early.
    const replies: Reply[] = [];
    for (let i = 0; i < 6; i++) replies.push(await t.request('GET', '/api/catalog'));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(replies.map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual([
      '4',
      '3',
      '2',
      '1',
      '0',
      '0',
    ]);
    expect(replies.slice(0, 5).map((r) => r.headers.get('x-read-source'))).toEqual([
      'read-model',
      'cache',
      'cache',
      'cache',
      'cache',
    ]);
    expectError(replies[5]!, 429, 'RATE_LIMITED');
    expect(validated).toHaveLength(2);
  });
});
