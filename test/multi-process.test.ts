// The production stack as separate processes: two API nodes (`serve --no-projector`, one with
// the shared Redis cache, one with an in-process cache kept fresh from NATS JetStream), two
// projector workers (`project`) sharing the projections through PostgreSQL leases, and a relay,
// all on per-test databases, key prefixes and streams. Under a stream of commands the worker
// owning the projections is SIGKILLed several times: the other takes over within 5 s, every API
// node serves each change fresh (with its consistency token at once, and without one as soon as
// its cache is invalidated: the cache TTL is 10 minutes, so only an invalidation can do that),
// and at the end the read models equal a full rebuild, with every order counted once.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import {
  declaredTables,
  diffRows,
  type Event,
  type Projection,
  projector,
} from '../src/core/index.js';
import { openReadSide, openWriteSide } from '../src/main.js';
import { shopProjections } from '../src/shop/query-handlers.js';
import type { ProjectionDb } from '../src/shop/read-db.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../src/stores/postgres/test-db.js';
import {
  eventually,
  NATS_URL,
  REDIS_URL,
  removeProductionState,
  requireService,
  runId,
} from './stores/services.js';

const run = promisify(execFile);
const CLI = join('dist', 'cli', 'main.js');
const ADMIN = 'multi-process-admin';
const up =
  (await postgresReachable()) &&
  (await requireService(REDIS_URL)) &&
  (await requireService(NATS_URL));
/** The bound on a takeover after the owner's death. */
const TAKEOVER_MS = 5000;
const KILLS = 3;

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
}

describe.skipIf(!up)('API nodes and projector workers as processes', () => {
  const children: ChildProcess[] = [];
  let dbs: TestDatabase[] = [];
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const id = runId();
  const cachePrefix = `test:procs:${id}`;
  const stream = `TEST_PROCS_${id}`;

  /** Starts `tworooms <args>` and waits for its "listening on <url>" line (or `ready`). */
  function start(name: string, args: string[], extra: NodeJS.ProcessEnv = {}, ready?: RegExp) {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...env, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    return new Promise<Proc>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start:\n${output}`)),
        30_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = output.match(/listening on (http:\/\/\S+)/);
        if (m || ready?.test(output)) {
          clearTimeout(timer);
          resolve({ name, child, url: m?.[1] ?? '', output: () => output });
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited ${code}:\n${output}`));
      });
    });
  }

  const worker = (n: number) => start(`worker ${n}`, ['project', '--port', '0']);
  let api: Proc[] = [];
  let workers: Proc[] = [];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    dbs = await Promise.all([
      createTestDatabase('tw_procs_write'),
      createTestDatabase('tw_procs_read'),
    ]);
    dir = mkdtempSync(join(tmpdir(), 'tworooms-procs-'));
    env = {
      ...process.env,
      TWOROOMS_DATA_DIR: dir,
      TWOROOMS_WRITE_DB: dbs[0]!.url,
      TWOROOMS_READ_DB: dbs[1]!.url,
      TWOROOMS_CACHE: REDIS_URL,
      TWOROOMS_CACHE_PREFIX: cachePrefix,
      TWOROOMS_BUS: NATS_URL,
      TWOROOMS_BUS_STREAM: stream,
      TWOROOMS_BUS_PREFIX: `procs${id}`,
      TWOROOMS_ADMIN_TOKEN: ADMIN,
      TWOROOMS_CACHE_TTL_MS: '600000',
      TWOROOMS_JOB_DELAY_MS: '50',
      PORT: '0',
    };
    await run(process.execPath, [CLI, 'migrate'], { env });
    workers = await Promise.all([worker(1), worker(2)]);
    api = await Promise.all([
      start('api redis', ['serve', '--no-projector']),
      // An in-process cache: it hears of changes through the relay and JetStream.
      start('api nats', ['serve', '--no-projector'], { TWOROOMS_CACHE: 'memory' }),
    ]);
    await start('relay', ['relay', '--poll-ms', '50'], {}, /relaying /);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(
      children
        .filter((c) => c.exitCode === null && c.signalCode === null)
        .map((c) => {
          const exited = new Promise((r) => c.once('exit', r));
          c.kill('SIGKILL');
          return exited;
        }),
    );
    await Promise.all(dbs.map((d) => d.drop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
    await removeProductionState(cachePrefix, stream);
  });

  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field
  type Reply = { status: number; headers: Headers; body: any };
  async function call(
    node: Proc,
    method: string,
    path: string,
    options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const res = await fetch(`${node.url}${path}`, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }
  const admin = (node: Proc, method: string, path: string, body?: unknown) =>
    call(node, method, path, { body, token: ADMIN });
  const ok = (r: Reply, status: number) => {
    expect({ status: r.status, body: r.body }).toMatchObject({ status });
    return r.body;
  };

  /** The projections each live worker owns now. */
  async function owners(): Promise<Map<Proc, string[]>> {
    const owned = new Map<Proc, string[]>();
    for (const w of workers) {
      if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
      const r = await admin(w, 'GET', '/api/admin/projections');
      owned.set(
        w,
        (ok(r, 200) as { name: string }[]).map((s) => s.name),
      );
    }
    return owned;
  }
  const names = shopProjections().map((p) => p.name);

  it('fails over under load; every API node serves each change fresh; the read models equal a rebuild', async () => {
    // Each projection has exactly one owner among the two workers.
    const first = await eventually(async () => {
      const o = await owners();
      const all = [...o.values()].flat().sort();
      return JSON.stringify(all) === JSON.stringify([...names].sort()) ? o : undefined;
    }, 'every projection to have one owner');
    expect([...first.values()].flat()).toHaveLength(names.length);

    const node = (i: number) => api[i % api.length] as Proc;
    const category = ok(await admin(node(0), 'POST', '/api/categories', { name: 'Tea' }), 201).id;
    const products: string[] = [];
    for (let i = 0; i < 6; i++) {
      const p = ok(
        await admin(node(i), 'POST', '/api/products', {
          sku: `TEA-${i}`,
          name: `Tea ${i}`,
          description: 'leaves',
          categoryId: category,
          priceCents: 1000 + i,
        }),
        201,
      );
      products.push(p.id);
      ok(
        await admin(node(i), 'PUT', `/api/products/${p.id}/stock`, {
          warehouse: 'main',
          quantity: 10_000,
        }),
        200,
      );
    }
    const customers: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = ok(
        await call(node(i), 'POST', '/api/customers', {
          body: { email: `c${i}-${id}@example.com`, name: `C${i}` },
        }),
        201,
      );
      customers.push(c.token);
    }
    let orders = 0;
    let commands = 0;
    const order = async (i: number) => {
      const r = await call(node(i), 'POST', '/api/orders', {
        token: customers[i % customers.length] as string,
        headers: { 'idempotency-key': `k-${id}-${i}-${Math.random()}` },
        body: {
          items: [
            { productId: products[i % products.length], quantity: 1 + (i % 3) },
            { productId: products[(i + 1) % products.length], quantity: 1 },
          ],
        },
      });
      ok(r, 201);
      orders++;
    };

    /** Commands through both API nodes until `stop` is set (the load a worker dies under). */
    const load = () => {
      const state = { stop: false };
      const done = (async () => {
        for (let i = 0; !state.stop; i++) {
          if (i % 3 === 2)
            ok(
              await admin(node(i), 'PUT', `/api/products/${products[i % products.length]}/price`, {
                priceCents: 2000 + commands,
              }),
              200,
            );
          else await order(commands);
          commands++;
        }
      })();
      return { state, done };
    };

    const page = `/api/catalog?category=${category}&page=1`;
    /** Reads on every node until each serves `path` from its cache (so a stale entry exists). */
    async function cached(path: string) {
      for (const n of api)
        await eventually(
          async () => (await call(n, 'GET', path)).headers.get('x-read-source') === 'cache',
          `${n.name} to cache ${path}`,
        );
    }
    /**
     * After a change at `position`: each node answers the product with its token at once (not
     * stale), then the cached page without a token, as soon as its cache was invalidated.
     */
    async function everyNodeFresh(
      product: string,
      position: string,
      fresh: (doc: { priceCents: number; stock: number }) => boolean,
      listed: (item: { priceCents: number; stockAvailable: boolean }) => boolean,
    ) {
      for (const n of api) {
        const doc = await call(n, 'GET', `/api/products/${product}`, {
          headers: { 'x-consistency-token': position },
        });
        expect(doc.status).toBe(200);
        expect(doc.headers.get('x-read-model-stale')).toBeNull();
        expect(BigInt(doc.headers.get('x-read-model-position') ?? '0')).toBeGreaterThanOrEqual(
          BigInt(position),
        );
        expect(fresh(doc.body), `${n.name}: ${JSON.stringify(doc.body)}`).toBe(true);
        await eventually(async () => {
          const r = await call(n, 'GET', page);
          const item = (r.body.items as { id: string }[]).find((x) => x.id === product);
          return item && listed(item as never);
        }, `${n.name} to serve the fresh page without a token`);
      }
    }

    const takeovers: number[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      const traffic = load();
      await eventually(() => commands >= 5 * kill, 'some commands before the kill');
      const owned = await owners();
      const [victim] = [...owned.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
      expect(victim, 'a worker owns projections').toBeDefined();
      const exited = new Promise((r) => victim?.child.once('exit', r));
      const killedAt = Date.now();
      victim?.child.kill('SIGKILL');
      await exited;
      const survivor = workers.find((w) => w !== victim) as Proc;
      await eventually(
        async () => (await owners()).get(survivor)?.length === names.length,
        'the survivor to own every projection',
        TAKEOVER_MS * 2,
      );
      const tookMs = Date.now() - killedAt;
      takeovers.push(tookMs);
      expect(tookMs, `takeover after kill ${kill}`).toBeLessThan(TAKEOVER_MS);
      // A new standby joins while commands go on.
      workers = [survivor, await worker(2 + kill)];
      traffic.state.stop = true;
      await traffic.done;

      // Checked changes, each on one node and served fresh by both.
      const product = products[kill % products.length] as string;
      await cached(`/api/products/${product}`);
      await cached(page);
      const price = 5000 + kill;
      const priced = ok(
        await admin(node(kill), 'PUT', `/api/products/${product}/price`, { priceCents: price }),
        200,
      );
      await everyNodeFresh(
        product,
        priced.position,
        (d) => d.priceCents === price,
        (i) => i.priceCents === price,
      );
      await cached(page);
      const emptied = ok(
        await admin(node(kill + 1), 'PUT', `/api/products/${product}/stock`, {
          warehouse: 'main',
          quantity: 0,
        }),
        200,
      );
      await everyNodeFresh(
        product,
        emptied.position,
        (d) => d.stock === 0,
        (i) => i.stockAvailable === false,
      );
      await cached(page);
      const restocked = ok(
        await admin(node(kill), 'PUT', `/api/products/${product}/stock`, {
          warehouse: 'main',
          quantity: 10_000,
        }),
        200,
      );
      await everyNodeFresh(
        product,
        restocked.position,
        (d) => d.stock > 0,
        (i) => i.stockAvailable === true,
      );
    }
    expect(orders).toBeGreaterThan(0);
    console.log(`takeovers after SIGKILL: ${takeovers.join(', ')} ms; ${commands} commands`);

    // `tworooms retry|skip --url` reach the owner through its admin routes; a standby says who
    // does not run it (the projection is live, so there is nothing to retry on the owner).
    const owned = await owners();
    const catalogOwner = [...owned.entries()].find(([, n]) => n.includes('catalog'))?.[0];
    const standby = workers.find((w) => w !== catalogOwner) as Proc;
    const retried = await run(
      process.execPath,
      [CLI, 'retry', 'catalog', '--url', catalogOwner?.url ?? ''],
      {
        env,
      },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(retried).toMatchObject({ code: 2 });
    expect((retried as { stderr: string }).stderr.trim()).toMatch(
      /^tworooms: http:.*Projection catalog has not failed: nothing to retry\.$/,
    );
    const skipped = await run(
      process.execPath,
      [CLI, 'skip', 'catalog', '1', '--url', standby.url],
      {
        env,
      },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(skipped).toMatchObject({ code: 2 });
    expect((skipped as { stderr: string }).stderr).toMatch(/runs in another worker now/);

    // A graceful stop hands the projections over too: SIGTERM, exit 0, the other owns them all.
    const stopping = catalogOwner as Proc;
    const stopped = new Promise((r) => stopping.child.once('exit', r));
    stopping.child.kill('SIGTERM');
    expect(await stopped).toBe(0);
    expect(stopping.output()).toMatch(/stopped/);
    await eventually(
      async () => (await owners()).get(standby)?.length === names.length,
      'the standby to own every projection after a SIGTERM',
      TAKEOVER_MS * 2,
    );

    // Everything projected: each projection's checkpoint at the log head.
    const config = loadConfig(env);
    const write = await openWriteSide(config);
    const read = await openReadSide(config);
    const rebuiltDb = await createTestDatabase('tw_procs_rebuilt');
    try {
      const head = await write.headPosition();
      await eventually(async () => {
        const checkpoints = await read.store.loadCheckpoints();
        return names.every((n) => (checkpoints.get(n)?.position ?? 0n) >= head);
      }, 'every projection to reach the head');
      const listed = await run(process.execPath, [CLI, 'projections'], { env });
      for (const n of names)
        expect(listed.stdout).toMatch(new RegExp(`^${n}: live .* lag 0$`, 'm'));

      // No order lost or counted twice: the write DB against the read models.
      const writeOrders = await write.reader.get<{ n: string | number; placed: string | number }>(
        "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'placed') AS placed FROM orders",
      );
      const readSql = read.reader();
      const readOrders = await readSql.get<{ n: string | number }>(
        'SELECT count(*) AS n FROM rm_orders',
      );
      const daily = await readSql.get<{ n: string | number | null }>(
        'SELECT sum(order_count) AS n FROM rm_orders_daily',
      );
      expect(Number(writeOrders?.n)).toBe(orders);
      expect(Number(readOrders?.n)).toBe(orders);
      expect(Number(daily?.n)).toBe(Number(writeOrders?.placed));
      // Stock on every API node equals the write DB's (reserved units taken off once).
      for (const product of products) {
        const units = await write.reader.get<{ n: string | number }>(
          'SELECT sum(quantity) AS n FROM inventory WHERE product_id = ?',
          [product],
        );
        for (const n of api) {
          const doc = await call(n, 'GET', `/api/products/${product}`, {
            headers: { 'x-consistency-token': head.toString() },
          });
          expect(doc.body.stock, `${n.name} stock of ${product}`).toBe(Number(units?.n));
        }
      }

      // The live read models equal a full rebuild from the log into a fresh database.
      const rebuiltConfig = loadConfig({ ...env, TWOROOMS_READ_DB: rebuiltDb.url });
      const rebuilt = await openReadSide(rebuiltConfig);
      try {
        const projections = shopProjections();
        const fresh = projector({ log: write.log, store: rebuilt.store, projections });
        await fresh.start();
        expect((await fresh.catchUp(60_000)).reached).toBe(true);
        await fresh.stop();
        const rebuiltSql = rebuilt.reader();
        const differences: unknown[] = [];
        let compared = 0;
        for (const p of projections as Projection<Event, ProjectionDb>[]) {
          for (const t of declaredTables(p as Projection<Event, unknown>)) {
            if (t.internal) continue;
            const exists = await readSql.get(
              'SELECT 1 AS one FROM information_schema.tables WHERE table_name = ?',
              [t.name],
            );
            if (!exists) continue;
            const rows = (sql: typeof readSql) =>
              sql.all<Record<string, unknown>>(`SELECT * FROM ${t.name}`);
            const live = await rows(readSql);
            compared += live.length;
            differences.push(...diffRows(t.name, live, await rows(rebuiltSql), t.key));
          }
        }
        expect(compared).toBeGreaterThan(orders);
        expect(differences).toEqual([]);
      } finally {
        await rebuilt.close();
      }
    } finally {
      await read.close();
      await write.close();
      await rebuiltDb.drop();
    }
  }, 240_000);
});
