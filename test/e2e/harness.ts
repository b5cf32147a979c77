// Starts a real shop (SQLite files in a temp dir) listening on a free port, and talks to it
// over real HTTP with fetch.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createShop, type Shop } from '../../src/main.js';

export type ReadMode = 'read-model' | 'write-db';

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface TestShop {
  readonly url: string;
  readonly shop: Shop;
  readonly adminToken: string;
  request<T = any>(
    method: string,
    path: string,
    options?: {
      body?: unknown;
      rawBody?: string;
      token?: string;
      headers?: Record<string, string>;
    },
  ): Promise<Reply<T>>;
  /** Registers a customer and returns its id and token. */
  customer(name?: string): Promise<{ customerId: string; token: string }>;
  close(): Promise<void>;
}

let counter = 0;

export async function startShop(
  readMode: ReadMode,
  env: Record<string, string> = {},
): Promise<TestShop> {
  const dir = mkdtempSync(join(tmpdir(), 'tworooms-e2e-'));
  const adminToken = `admin-${process.pid}-${++counter}`;
  const config = loadConfig({
    TWOROOMS_DATA_DIR: dir,
    TWOROOMS_READS: readMode,
    TWOROOMS_ADMIN_TOKEN: adminToken,
    PORT: '0',
    ...env,
  });
  const shop = await createShop(config, { logger: false });
  await shop.app.listen({ port: 0, host: '127.0.0.1' });
  const address = shop.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
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
    adminToken,
    request,
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
      await shop.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
