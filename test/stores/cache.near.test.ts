// The near layer in front of Redis (src/stores/redis/near-cache.ts), on a real Redis: the Cache
// port's contract, then what the layer adds — hits from memory, invalidations and clears from
// other processes arriving through Redis's channel, fills refused near when an invalidation
// beat them, nothing served near while the subscription is down.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openCache } from '../../src/main.js';
import { NearCache, RedisCache } from '../../src/stores/redis/index.js';
import { cacheConformance } from '../conformance/cache-suite.js';
import { dropRedisPrefix, eventually, REDIS_URL, requireService, runId } from './services.js';

const available = await requireService(REDIS_URL);
let admin: Redis;

beforeAll(() => {
  if (available) admin = new Redis(REDIS_URL);
});
afterAll(async () => {
  admin?.disconnect();
});

const dropPrefix = (prefix: string) => dropRedisPrefix(admin, prefix);

const near = async (prefix: string, ttlMs?: number) => {
  const far = new RedisCache({ redis: REDIS_URL, prefix, ...(ttlMs ? { ttlMs } : {}) });
  const cache = new NearCache(far, ttlMs ? { ttlMs } : {});
  await cache.ready();
  return { cache, far };
};

if (available) {
  // A sibling here is an API process without the near layer: what it sees must be exact. (Two
  // near layers agree one pub/sub hop later: see below.)
  cacheConformance('redis with a near layer', async (options) => {
    const prefix = `test:cache:${runId()}`;
    const { cache } = await near(prefix, options?.ttlMs);
    const siblings: RedisCache[] = [];
    return {
      cache,
      sibling: async () => {
        const other = new RedisCache({ redis: REDIS_URL, prefix });
        await other.ready();
        siblings.push(other);
        return other;
      },
      cleanup: async () => {
        await cache.close();
        for (const c of siblings) await c.close();
        await dropPrefix(prefix);
      },
    };
  });
}

describe.skipIf(!available)('NearCache', () => {
  let prefix: string;
  const open: NearCache[] = [];
  const start = async () => {
    const opened = await near(prefix);
    open.push(opened.cache);
    return opened;
  };
  const done = async () => {
    for (const c of open.splice(0)) await c.close();
    await dropPrefix(prefix);
  };

  it('answers a repeated hit from memory (no Redis round trip), and peeks without a promise', async () => {
    prefix = `test:cache:${runId()}`;
    try {
      const { cache, far } = await start();
      await cache.set('k', { value: 'page', position: 4n }, ['product:1'], await cache.ticket());
      // The entry's Redis copy goes behind its back: the near copy still answers.
      await admin.del(`${prefix}:entry:k`);
      expect(await cache.get('k')).toEqual({ value: 'page', position: 4n });
      expect(cache.peek('k', () => true)).toEqual({ value: 'page', position: 4n });
      expect(cache.peek('k', (h) => h.position >= 5n)).toBeUndefined();
      expect(far.hits).toBe(0);
      expect(cache.hits).toBe(2);
      // An entry another process filled is fetched once, then held here too.
      const other = new RedisCache({ redis: REDIS_URL, prefix });
      await other.ready();
      await other.set('j', { value: 'theirs', position: 2n }, ['product:2'], await other.ticket());
      await other.close();
      expect(cache.peek('j', () => true)).toBeUndefined();
      expect(await cache.get('j')).toEqual({ value: 'theirs', position: 2n });
      expect(far.hits).toBe(1);
      expect(cache.peek('j', () => true)).toEqual({ value: 'theirs', position: 2n });
    } finally {
      await done();
    }
  });

  it("drops near entries on another process's invalidation and clear (one pub/sub hop later)", async () => {
    prefix = `test:cache:${runId()}`;
    try {
      const { cache: a } = await start();
      const { cache: b } = await start();
      await a.set('k', { value: 1, position: 1n }, ['product:1'], await a.ticket());
      await a.set('j', { value: 2, position: 1n }, ['product:2'], await a.ticket());
      expect((await b.get('k'))?.value).toBe(1);
      expect((await b.get('j'))?.value).toBe(2);
      expect(b.nearSize).toBe(2);
      await a.invalidate(['product:1']);
      expect(a.peek('k', () => true)).toBeUndefined(); // at once where it was invalidated
      await eventually(() => b.peek('k', () => true) === undefined, "b's near copy of k to go");
      expect(b.peek('j', () => true)?.value).toBe(2); // other tags untouched
      expect(await b.get('k')).toBeUndefined();
      await a.clear();
      await eventually(() => b.nearSize === 0, "b's near layer to empty");
      expect(await b.get('j')).toBeUndefined();
    } finally {
      await done();
    }
  });

  it('keeps no fill near whose ticket predates an invalidation it heard, even one Redis accepted', async () => {
    prefix = `test:cache:${runId()}`;
    try {
      const { cache, far } = await start();
      await cache.set('probe', { value: 0, position: 1n }, ['product:1'], await cache.ticket());
      const ticket = await cache.ticket();
      // An invalidation message alone (Redis's tag untouched, so Redis accepts the fill).
      await admin.publish(`${prefix}:invalidated`, JSON.stringify(['product:1']));
      await eventually(() => cache.peek('probe', () => true) === undefined, 'the message');
      expect(await cache.set('k', { value: 1, position: 1n }, ['product:1'], ticket)).toBe(true);
      expect(cache.peek('k', () => true)).toBeUndefined();
      const hits = far.hits;
      expect((await cache.get('k'))?.value).toBe(1);
      expect(far.hits).toBe(hits + 1); // from Redis, then held near
      expect(cache.peek('k', () => true)?.value).toBe(1);
    } finally {
      await done();
    }
  });

  it('serves nothing near while its subscription is down, and resumes once resubscribed', async () => {
    prefix = `test:cache:${runId()}`;
    try {
      const { cache: a } = await start();
      const { cache: b } = await start();
      await a.set('k', { value: 1, position: 1n }, ['product:1'], await a.ticket());
      expect((await b.get('k'))?.value).toBe(1);
      expect(b.peek('k', () => true)?.value).toBe(1);
      // Cut b's subscription (found by its connection name); a's goes on.
      const clients = (await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
      const ids = clients
        .split('\n')
        .filter((line) => line.includes(`name=${prefix}:invalidated:near`))
        .map((line) => /\bid=(\d+)/.exec(line)![1]!);
      expect(ids).toHaveLength(2);
      await admin.client('KILL', 'ID', ids[1]!);
      // Whichever of the two was cut, it stops serving near at once and empties its layer.
      const cut = await eventually(
        () => [a, b].find((c) => c.peek('k', () => true) === undefined && c.nearSize === 0),
        'a near layer to stop serving',
      );
      const other = cut === a ? b : a;
      // An invalidation it may never hear: once back, it must not serve what it held.
      await other.invalidate(['product:1']);
      await eventually(async () => {
        await cut.set('j', { value: 'back', position: 2n }, [], await cut.ticket());
        return cut.peek('j', () => true) !== undefined;
      }, 'the subscription to come back');
      expect(await cut.get('k')).toBeUndefined();
    } finally {
      await done();
    }
  });

  it('refuses to start when Redis cannot be reached, and closes cleanly', async () => {
    const far = new RedisCache({ redis: 'redis://127.0.0.1:1', prefix: `test:cache:${runId()}` });
    const cache = new NearCache(far);
    await expect(cache.ready()).rejects.toThrow(/Redis unreachable/);
    await cache.close();
  });
});

describe.skipIf(!available)('openCache (TWOROOMS_CACHE=redis://…)', () => {
  it('puts the near layer in front of Redis unless TWOROOMS_CACHE_NEAR=off', async () => {
    const prefix = `test:cache:${runId()}`;
    const env = { TWOROOMS_CACHE: REDIS_URL, TWOROOMS_CACHE_PREFIX: prefix };
    for (const [near, kind] of [
      ['on', NearCache],
      ['off', RedisCache],
    ] as const) {
      const opened = await openCache(loadConfig({ ...env, TWOROOMS_CACHE_NEAR: near }));
      try {
        expect(opened.cache).toBeInstanceOf(kind);
        expect(opened.shared).toBe(true);
        expect(typeof opened.cache.peek === 'function').toBe(near === 'on');
      } finally {
        await opened.close();
      }
    }
    await dropPrefix(prefix);
  });
});
