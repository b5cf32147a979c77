// Two API processes' worth of shops over one store: node A projects, node B serves only. After a
// change made on A, B serves the new answer although it had cached the old one — through the
// shared Redis cache, or through its in-process cache invalidated from NATS JetStream. (The NATS
// case fails, B keeping the old price, with the subscription in createShop switched off.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createShop, type Shop } from '../../src/main.js';
import { checkpointBucket, NatsRelay } from '../../src/stores/nats/index.js';
import {
  dropRedisPrefix,
  eventually,
  NATS_URL,
  REDIS_URL,
  requireService,
  runId,
} from '../stores/services.js';

const redisUp = await requireService(REDIS_URL);
const natsUp = await requireService(NATS_URL);

describe('a change made on one node is served fresh by another', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function twoNodes(env: Record<string, string>) {
    const dir = mkdtempSync(join(tmpdir(), 'tworooms-nodes-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const base = {
      TWOROOMS_DATA_DIR: dir,
      TWOROOMS_READS: 'read-model',
      TWOROOMS_ADMIN_TOKEN: 'admin-token',
      TWOROOMS_CACHE_TTL_MS: '600000', // only an invalidation can make B fresh in time
    };
    const a = await createShop(loadConfig({ ...base, ...env }), { logger: false });
    cleanups.push(() => a.close());
    const b = await createShop(loadConfig({ ...base, ...env }), {
      logger: false,
      projector: false,
    });
    cleanups.push(() => b.close());
    return { a, b };
  }

  const admin = { authorization: 'Bearer admin-token' };
  const json = (r: { body: string }) => JSON.parse(r.body) as Record<string, unknown>;
  async function product(a: Shop): Promise<string> {
    const category = json(
      await a.app.inject({
        method: 'POST',
        url: '/api/categories',
        headers: admin,
        payload: { name: 'Fruit' },
      }),
    )['id'] as string;
    const created = await a.app.inject({
      method: 'POST',
      url: '/api/products',
      headers: admin,
      payload: {
        sku: 'APPLE',
        name: 'Apple',
        description: 'red',
        categoryId: category,
        priceCents: 100,
      },
    });
    expect(created.statusCode).toBe(201);
    return json(created)['id'] as string;
  }
  const priceOn = async (node: Shop, id: string) => {
    const r = await node.app.inject({ method: 'GET', url: `/api/products/${id}` });
    return r.statusCode === 200
      ? { price: json(r)['priceCents'] as number, source: r.headers['x-read-source'] }
      : undefined;
  };

  async function changeOnAServedByB(a: Shop, b: Shop) {
    const id = await product(a);
    await eventually(async () => (await priceOn(b, id))?.price === 100, 'B sees the product');
    await eventually(async () => (await priceOn(b, id))?.source === 'cache', 'B has it cached');
    const updated = await a.app.inject({
      method: 'PUT',
      url: `/api/products/${id}/price`,
      headers: admin,
      payload: { priceCents: 175 },
    });
    expect(updated.statusCode).toBe(200);
    await eventually(async () => (await priceOn(b, id))?.price === 175, 'B serves the new price');
    // A search answer cached on B is dropped once the search projection has the rename.
    const pears = async () => {
      const r = await b.app.inject({ method: 'GET', url: '/api/search?q=pear' });
      return { total: json(r)['total'] as number, source: r.headers['x-read-source'] };
    };
    await eventually(async () => (await pears()).source === 'cache', 'B has the search cached');
    expect((await pears()).total).toBe(0);
    const renamed = await a.app.inject({
      method: 'PATCH',
      url: `/api/products/${id}`,
      headers: admin,
      payload: { name: 'Pear' },
    });
    expect(renamed.statusCode).toBe(200);
    await eventually(async () => (await pears()).total === 1, 'B finds the renamed product');
  }

  it.skipIf(!redisUp)('with the shared Redis cache', async () => {
    const prefix = `test:nodes:${runId()}`;
    const { a, b } = await twoNodes({ TWOROOMS_CACHE: REDIS_URL, TWOROOMS_CACHE_PREFIX: prefix });
    cleanups.push(async () => {
      const redis = new Redis(REDIS_URL);
      await dropRedisPrefix(redis, prefix).finally(() => redis.disconnect());
    });
    await changeOnAServedByB(a, b);
  });

  it.skipIf(!natsUp)('with in-process caches invalidated from NATS JetStream', async () => {
    const id = runId();
    const bus = {
      TWOROOMS_BUS: NATS_URL,
      TWOROOMS_BUS_STREAM: `TEST_NODES_${id}`,
      TWOROOMS_BUS_PREFIX: `nodes${id}`,
    };
    const { a, b } = await twoNodes(bus);
    const relay = new NatsRelay({
      log: a.store.log,
      servers: NATS_URL,
      stream: bus.TWOROOMS_BUS_STREAM,
      prefix: bus.TWOROOMS_BUS_PREFIX,
    });
    relay.start();
    cleanups.push(async () => {
      await relay.stop();
      const nc = await connect({ servers: NATS_URL.replace('nats://', '') });
      const jsm = await nc.jetstreamManager();
      for (const name of [
        bus.TWOROOMS_BUS_STREAM,
        `KV_${checkpointBucket(bus.TWOROOMS_BUS_STREAM)}`,
      ])
        await jsm.streams.delete(name).catch(() => undefined);
      await nc.close();
    });
    await changeOnAServedByB(a, b);
  });
});
