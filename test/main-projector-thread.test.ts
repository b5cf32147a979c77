// The projector thread (TWOROOMS_PROJECT_THREAD, on by default on SQLite): the shop's projections
// run beside the event loop, not on it; read-your-writes, cache invalidation and the admin API
// work through it as they do with the projector on the event loop.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { isTworoomsError, Projector } from '../src/core/index.js';
import { openWriteStore } from '../src/main.js';
import { startProjectorThread } from '../src/main-projector-thread.js';
import { startWriterThread } from '../src/main-writer.js';
import { ADMIN } from '../src/shop/commands.js';
import { startShop, type TestShop } from './e2e/harness.js';
import { until } from './e2e/helpers.js';

describe('projector thread', () => {
  let t: TestShop | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  const product = async (shop: TestShop) => {
    const category = await shop.request('POST', '/api/categories', {
      token: shop.adminToken,
      body: { name: 'Tea' },
    });
    const added = await shop.request('POST', '/api/products', {
      token: shop.adminToken,
      body: {
        sku: 'TEA-1',
        name: 'Sencha',
        description: 'A green tea',
        categoryId: category.body.id,
        priceCents: 1000,
      },
    });
    expect(added.status).toBe(201);
    return { categoryId: category.body.id as string, productId: added.body.id as string };
  };

  it('is the default on SQLite, and TWOROOMS_PROJECT_THREAD=off keeps the projector on the event loop', async () => {
    t = await startShop('read-model');
    expect(t.shop.projector).toBeDefined();
    expect(t.shop.projector).not.toBeInstanceOf(Projector);
    await t.close();
    t = await startShop('read-model', { TWOROOMS_PROJECT_THREAD: 'off' });
    expect(t.shop.projector).toBeInstanceOf(Projector);
  });

  it('projects while the event loop is busy', async () => {
    t = await startShop('read-model');
    const { productId } = await product(t);
    await t.read(`/api/products/${productId}`);
    const writeDb = new Database(t.shop.config.writeDb);
    const readDb = new Database(t.shop.config.readDb, { readonly: true });
    try {
      // Hold the event loop (as a long synchronous request would) and, meanwhile, record a
      // price change straight into the log: the projector thread finds it by itself (it
      // polls when no wake-up comes) and the catalog's checkpoint reaches it.
      const recorded = writeDb
        .prepare(
          `INSERT INTO events (id, stream_id, stream_version, type, data, metadata, recorded_at)
           VALUES ('test-event-1', 'test-busy-loop', 1, 'ProductPriceUpdated', ?, '{}', ?)`,
        )
        .run(
          JSON.stringify({
            v: 1,
            productId,
            priceCents: 1777,
            previousPriceCents: 1000,
            at: new Date().toISOString(),
          }),
          Date.now(),
        );
      const position = BigInt(recorded.lastInsertRowid);
      const at = readDb
        .prepare("SELECT position FROM tworooms_checkpoints WHERE name = 'catalog'")
        .pluck()
        .safeIntegers();
      const deadline = Date.now() + 10_000;
      let reached = (at.get() as bigint) >= position;
      while (!reached && Date.now() < deadline) reached = (at.get() as bigint) >= position;
      expect(reached).toBe(true);
      const doc = await t.read(`/api/products/${productId}?after=${position}`);
      expect(doc.body.priceCents).toBe(1777);
    } finally {
      readDb.close();
      writeDb.close();
    }
  });

  it('reads with a token see the write, cached answers included; the admin calls reach the thread', async () => {
    t = await startShop('read-model');
    const { categoryId, productId } = await product(t);
    const page = `/api/catalog?category=${categoryId}&page=1`;
    expect((await t.read(page)).body.items[0].priceCents).toBe(1000);
    expect((await t.read(page)).headers.get('x-read-source')).toBe('cache');
    await t.request('PUT', `/api/products/${productId}/price`, {
      token: t.adminToken,
      body: { priceCents: 1500 },
    });
    const fresh = await t.read(page);
    expect(fresh.headers.get('x-read-model-stale')).toBeNull();
    expect(fresh.body.items[0].priceCents).toBe(1500);

    const projector = t.shop.projector!;
    const statuses = await projector.status();
    expect(statuses.find((s) => s.name === 'catalog')?.position).toBe(BigInt(t.lastPosition));
    const rebuilt = await t.request('POST', '/api/admin/projections/catalog/rebuild', {
      token: t.adminToken,
    });
    expect(rebuilt.status).toBe(202);
    expect((await projector.catchUp()).reached).toBe(true);
    expect((await t.read(page)).body.items[0].priceCents).toBe(1500);
    // An error keeps its code and category across the thread.
    const unknown = await projector.retry('nope').catch((e: unknown) => e);
    expect(isTworoomsError(unknown) && unknown.category).toBe('not_found');
    const missing = await t.request('POST', '/api/admin/projections/nope/rebuild', {
      token: t.adminToken,
    });
    expect(missing.status).toBe(404);
  });

  it("hears the writer thread's commits from it directly, not through the event loop", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tworooms-heads-'));
    const config = loadConfig({ TWOROOMS_DATA_DIR: dir });
    await (await openWriteStore(config)).close();
    const writer = await startWriterThread({ path: config.writeDb, synchronous: 'normal' });
    const heads = new MessageChannel();
    writer.sendHeadsTo(heads.port1);
    // `log` never announces anything and the thread polls once an hour: only the heads the
    // writer posts to it can move the catalog.
    const thread = await startProjectorThread(
      { config, pollMs: 3_600_000 },
      { log: { onAppended: () => () => {} }, heads: heads.port2, cache: undefined, onDeath() {} },
    );
    try {
      const done = await writer.dispatch(
        { type: 'CreateCategory', data: { categoryId: 'c1', name: 'Tea' } },
        { actor: ADMIN },
      );
      const reached = () => (thread.positionOf('catalog') ?? -1n) >= done.position;
      await until('the catalog at the command', () => (reached() ? true : undefined));
      expect(reached()).toBe(true);
    } finally {
      await thread.close();
      await writer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
