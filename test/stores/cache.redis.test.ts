import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCache } from '../../src/stores/redis/index.js';
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

if (available) {
  cacheConformance('redis', async (options) => {
    const prefix = `test:cache:${runId()}`;
    const open = async () => {
      const cache = new RedisCache({
        redis: REDIS_URL,
        prefix,
        ...(options?.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
      });
      await cache.ready();
      return cache;
    };
    const cache = await open();
    const siblings: RedisCache[] = [];
    return {
      cache,
      sibling: async () => {
        const other = await open();
        siblings.push(other);
        return other;
      },
      cleanup: async () => {
        for (const c of [cache, ...siblings]) await c.close();
        await dropPrefix(prefix);
      },
    };
  });
}

describe.skipIf(!available)('RedisCache beyond the port', () => {
  it('keeps refusing old tickets after Redis lost every key (it is only a cache)', async () => {
    const prefix = `test:cache:${runId()}`;
    const cache = new RedisCache({ redis: REDIS_URL, prefix });
    try {
      await cache.ready();
      await cache.invalidate(['product:1']);
      const ticket = await cache.ticket();
      await dropPrefix(prefix); // a flush: the clock is gone too
      await cache.invalidate(['product:1']);
      expect(await cache.set('k', { value: 1, position: 1n }, ['product:1'], ticket)).toBe(false);
      expect(
        await cache.set('k', { value: 1, position: 1n }, ['product:1'], await cache.ticket()),
      ).toBe(true);
    } finally {
      await cache.close();
      await dropPrefix(prefix);
    }
  });

  it('keeps tag versions without expiry and entries with the TTL (eviction-safe layout)', async () => {
    const prefix = `test:cache:${runId()}`;
    const cache = new RedisCache({ redis: REDIS_URL, prefix, ttlMs: 60_000 });
    try {
      await cache.ready();
      await cache.set('k', { value: 1, position: 1n }, ['product:1'], await cache.ticket());
      await cache.invalidate(['product:2']);
      expect(await admin.pttl(`${prefix}:tag:product:2`)).toBe(-1);
      expect(await admin.pttl(`${prefix}:entry:k`)).toBeGreaterThan(0);
    } finally {
      await cache.close();
      await dropPrefix(prefix);
    }
  });

  it('reads as a miss and refuses sets while Redis is unreachable, and never rejects', async () => {
    // a real client to a port where nothing listens (no mock)
    const cache = new RedisCache({ redis: 'redis://127.0.0.1:1', prefix: `test:cache:${runId()}` });
    try {
      await expect(cache.ready()).rejects.toThrow(/Redis unreachable/);
      expect(await cache.get('k')).toBeUndefined();
      const ticket = await cache.ticket();
      expect(await cache.set('k', { value: 1, position: 1n }, ['t'], ticket)).toBe(false);
      await cache.invalidate(['t']);
      expect(cache.errors).toBeGreaterThanOrEqual(3);
    } finally {
      await cache.close();
    }
  });

  it('a clear that cannot reach Redis never rejects, and goes through once Redis is back', async () => {
    // The projector's process reaches Redis through a TCP relay the test can cut; an API
    // process (the sibling) keeps its own connection, and the entry it cached must not outlive
    // the clear a blue/green switch asked for.
    const { hostname, port } = new URL(REDIS_URL);
    const sockets = new Set<Socket>();
    const relay = createServer((client) => {
      const upstream = connect(Number(port), hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayPort = (relay.address() as AddressInfo).port;
    const prefix = `test:cache:${runId()}`;
    const worker = new RedisCache({ redis: `redis://127.0.0.1:${relayPort}`, prefix });
    const api = new RedisCache({ redis: REDIS_URL, prefix });
    try {
      await Promise.all([worker.ready(), api.ready()]);
      await api.set('page', { value: 'old copy', position: 1n }, [], await api.ticket());
      // Cut: no new connection is accepted, the open ones drop.
      const closed = new Promise((resolve) => relay.close(resolve));
      for (const s of sockets) s.destroy();
      await closed;
      await eventually(async () => (await worker.ticket()) === -1, 'the cut');
      await expect(worker.clear()).resolves.toBeUndefined();
      expect(worker.errors).toBeGreaterThan(0);
      expect(await worker.get('page')).toBeUndefined(); // this process serves nothing meanwhile
      // Back on the same port: the background retry clears for every process.
      await new Promise<void>((resolve) => relay.listen(relayPort, '127.0.0.1', resolve));
      await eventually(async () => (await api.get('page')) === undefined, 'the retried clear');
    } finally {
      await worker.close();
      await api.close();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => relay.close(resolve));
      await dropPrefix(prefix);
    }
  });
});
