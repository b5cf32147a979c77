// What the projection commands share: the shop's files opened directly (for work that coordinates
// through the read DB's transactions) and the running server's admin API (for work that the
// process owning the projector must do).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, isPostgresUrl } from '../config.js';
import { coreError, type EventLog, type Projection, type ReadStore } from '../core/index.js';
import { openReadSide, openWriteSide } from '../main-stores.js';
import type { ShopEvent } from '../shop/events.js';
import { shopProjections } from '../shop/query-handlers.js';
import type { ProjectionDb } from '../shop/read-db.js';

/** The shop's projection of that name, or a clear error listing the ones there are. */
export function projectionNamed(name: string): Projection<ShopEvent, ProjectionDb> {
  const all = shopProjections();
  const found = all.find((p) => p.name === name);
  if (!found)
    throw coreError(
      'NOT_FOUND',
      `unknown projection "${name}" (there are: ${all.map((p) => p.name).join(', ')})`,
    );
  return found;
}

export interface ShopStores {
  readonly write: { readonly log: EventLog };
  readonly store: ReadStore<ProjectionDb>;
  close(): Promise<void>;
}

/** Opens the write DB (for its log) and the read DB as the projector sees them, on either store. */
export async function openShopStores(config: Config): Promise<ShopStores> {
  if (!isPostgresUrl(config.writeDb) && !existsSync(config.writeDb))
    throw coreError('NOT_FOUND', `no store at ${config.writeDb}: run \`tworooms serve\` first`);
  const write = await openWriteSide(config);
  try {
    const read = await openReadSide(config);
    return {
      write,
      store: read.store,
      async close() {
        await write.close();
        await read.close();
      },
    };
  } catch (error) {
    await write.close();
    throw error;
  }
}

export interface AdminApi {
  readonly url: string;
  // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/**
 * The running server's admin API, or undefined when nothing listens at `url` (no token file
 * either means no server ever ran on these files).
 */
export async function serverAt(config: Config, url?: string): Promise<AdminApi | undefined> {
  const base = url ?? `http://127.0.0.1:${config.port}`;
  const file = join(config.dataDir, 'admin-token');
  const token =
    config.adminToken ?? (existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined);
  const api: AdminApi = {
    url: base,
    async call(method, path, body) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  };
  try {
    const health = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
    if (!health.ok && health.status !== 503) return undefined;
  } catch {
    return undefined; // nothing listens there
  }
  return api;
}

/** An admin API answer that is not the expected status, as a one-line error. */
export function apiError(
  api: AdminApi,
  reply: { status: number; body: { error?: { message?: string } } },
): Error {
  const message = reply.body?.error?.message ?? `HTTP ${reply.status}`;
  if (reply.status === 401 || reply.status === 403)
    return new Error(
      `the server at ${api.url} refused the admin token (${message}): set TWOROOMS_ADMIN_TOKEN`,
    );
  return coreError(
    reply.status === 404 ? 'NOT_FOUND' : 'VALIDATION_FAILED',
    `${api.url}: ${message}`,
  );
}
