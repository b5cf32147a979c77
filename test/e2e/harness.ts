// Starts a real shop listening on a free port and talks to it over real HTTP: on the embedded
// default (SQLite files in a temp dir, in-process cache and jobs), or on the production stack —
// two fresh PostgreSQL databases (write and read), the Redis cache and BullMQ jobs under a key
// prefix of its own, and a relay publishing its log to a NATS JetStream stream of its own, which
// `close` checks holds every event exactly once, in order, before removing it all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { loadConfig } from '../../src/config.js';
import { createShop, type Shop } from '../../src/main.js';
import { NatsRelay } from '../../src/stores/nats/index.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';
import {
  NATS_URL,
  REDIS_URL,
  removeProductionState,
  requireService,
  runId,
} from '../stores/services.js';

export type ReadMode = 'read-model' | 'write-db';
export const READ_MODES: readonly ReadMode[] = ['read-model', 'write-db'];

/**
 * The stores a shop runs on: the embedded SQLite files, or the production stack (PostgreSQL
 * write + read DB, Redis cache and jobs, NATS JetStream relay).
 */
export type Stack = 'sqlite' | 'production';
/** Every stack this machine can run (the production one when its services answer; under CI they must). */
export const STACKS: readonly Stack[] =
  (await postgresReachable()) &&
  (await requireService(REDIS_URL)) &&
  (await requireService(NATS_URL))
    ? ['sqlite', 'production']
    : ['sqlite'];
/** Every read mode on every stack, for `describe.each`: `[mode, stack]`. */
export const MODES: readonly (readonly [ReadMode, Stack])[] = STACKS.flatMap((stack) =>
  READ_MODES.map((mode) => [mode, stack] as const),
);

// biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field in the tests
export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** Every answer the shop gave, kept so a suite can check that none was a 5xx or leaked a stack. */
export interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
}

export interface RequestOptions {
  body?: unknown;
  rawBody?: string;
  token?: string;
  headers?: Record<string, string>;
}

export interface TestShop {
  readonly url: string;
  readonly shop: Shop;
  readonly mode: ReadMode;
  readonly stack: Stack;
  readonly adminToken: string;
  /** Every answer so far, in order. */
  readonly recorded: readonly Recorded[];
  /** The highest `X-Consistency-Token` any command answered so far ('0' before any). */
  readonly lastPosition: string;
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field in the tests
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<Reply<T>>;
  /**
   * A GET that carries `X-Consistency-Token: <lastPosition>` (unless the caller sets one), so
   * that in read-model mode it sees every write made so far.
   */
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field in the tests
  read<T = any>(
    path: string,
    options?: Omit<RequestOptions, 'body' | 'rawBody'>,
  ): Promise<Reply<T>>;
  /** Registers a customer and returns its id and token. */
  customer(name?: string): Promise<{ customerId: string; token: string }>;
  close(): Promise<void>;
}

let counter = 0;

/** The production stack's services for one shop, the settings that point at them, their removal. */
async function productionServices(): Promise<{
  env: Record<string, string>;
  relayTo: (shop: Shop) => () => Promise<void>;
  remove: () => Promise<void>;
}> {
  const dbs: TestDatabase[] = await Promise.all([
    createTestDatabase('tworooms_e2e_write'),
    createTestDatabase('tworooms_e2e_read'),
  ]);
  const [write, read] = dbs as [TestDatabase, TestDatabase];
  const id = runId();
  const prefix = `test:e2e:${id}`;
  const stream = `TEST_E2E_${id}`;
  const busPrefix = `e2e${id}`;
  return {
    env: {
      TWOROOMS_WRITE_DB: write.url,
      TWOROOMS_READ_DB: read.url,
      TWOROOMS_CACHE: REDIS_URL,
      TWOROOMS_CACHE_PREFIX: prefix, // the BullMQ queues go under `${prefix}:jobs`
      TWOROOMS_BUS: NATS_URL,
      TWOROOMS_BUS_STREAM: stream,
      TWOROOMS_BUS_PREFIX: busPrefix,
    },
    relayTo(shop) {
      const relay = new NatsRelay({
        log: shop.store.log,
        servers: NATS_URL,
        stream,
        prefix: busPrefix,
      });
      relay.start();
      // Every event of the log is in the stream, once each, in position order.
      return async () => {
        const head = await shop.store.headPosition();
        const deadline = Date.now() + 15_000;
        while (relay.status().position < head) {
          if (Date.now() > deadline)
            throw new Error(`relay at ${relay.status().position}, log head ${head}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        await relay.stop();
        const positions = (
          await shop.store.reader.all<{ position: string | number }>(
            'SELECT position FROM events ORDER BY position',
          )
        ).map((r) => String(r.position));
        const nc = await connect({ servers: NATS_URL.replace('nats://', '') });
        try {
          const jsm = await nc.jetstreamManager();
          const info = await jsm.streams.info(stream).catch(() => undefined);
          const relayed: string[] = [];
          for (let seq = 1; seq <= (info?.state.messages ?? 0); seq++) {
            const m = await jsm.streams.getMessage(stream, { seq });
            relayed.push(m.header.get('Tworooms-Position'));
          }
          if (JSON.stringify(relayed) !== JSON.stringify(positions))
            throw new Error(
              `the stream holds positions ${relayed.join(',')}, the log ${positions.join(',')}`,
            );
        } finally {
          await nc.close();
        }
      };
    },
    async remove() {
      await Promise.all(dbs.map((db) => db.drop()));
      await removeProductionState(prefix, stream);
    },
  };
}

export interface StartOptions {
  /** Runs on the shop before it listens (e.g. to add a Fastify hook that watches requests). */
  beforeListen?(shop: Shop): void;
}

export async function startShop(
  readMode: ReadMode,
  env: Record<string, string> = {},
  stack: Stack = 'sqlite',
  options: StartOptions = {},
): Promise<TestShop> {
  const dir = mkdtempSync(join(tmpdir(), 'tworooms-e2e-'));
  const adminToken = `admin-${process.pid}-${++counter}`;
  const services = stack === 'production' ? await productionServices() : undefined;
  const removeAll = async () => {
    await services?.remove();
    rmSync(dir, { recursive: true, force: true });
  };
  let shop: Shop;
  try {
    const config = loadConfig({
      TWOROOMS_DATA_DIR: dir,
      TWOROOMS_READS: readMode,
      TWOROOMS_ADMIN_TOKEN: adminToken,
      PORT: '0',
      ...services?.env,
      ...env,
    });
    shop = await createShop(config, { logger: false });
  } catch (error) {
    await removeAll();
    throw error;
  }
  const relayed = services?.relayTo(shop);
  options.beforeListen?.(shop);
  await shop.app.listen({ port: 0, host: '127.0.0.1' });
  const address = shop.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const recorded: Recorded[] = [];
  let lastPosition = 0n;
  const request: TestShop['request'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && !headers['content-type'])
      headers['content-type'] = 'application/json';
    const res = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    recorded.push({ method, path, status: res.status, text, headers: res.headers });
    const token = res.headers.get('x-consistency-token');
    if (token !== null && /^\d+$/.test(token) && BigInt(token) > lastPosition) {
      lastPosition = BigInt(token);
    }
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (e.g. /metrics)
    }
    return { status: res.status, headers: res.headers, body: parsed as never };
  };
  let customers = 0;
  return {
    url,
    shop,
    mode: readMode,
    stack,
    adminToken,
    recorded,
    get lastPosition() {
      return lastPosition.toString();
    },
    request,
    read(path, options = {}) {
      const headers = { ...options.headers };
      const hasToken =
        Object.keys(headers).some((h) => h.toLowerCase() === 'x-consistency-token') ||
        /[?&]after=/.test(path);
      if (!hasToken) headers['x-consistency-token'] = lastPosition.toString();
      return request('GET', path, { ...options, headers });
    },
    async customer(name = `Customer ${++customers}`) {
      const r = await request('POST', '/api/customers', {
        body: {
          email: `c${customers}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`,
          name,
        },
      });
      if (r.status !== 201)
        throw new Error(`registration failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async close() {
      try {
        await relayed?.();
      } finally {
        await shop.close();
        await removeAll();
      }
    },
  };
}
