// Where the benchmark's data lives: the embedded stack (SQLite files in a scratch directory) or
// the production stack (PostgreSQL databases, Redis, NATS). Each run gets its own copy of the
// seeded data, so the four runs start from the same state.
import { randomBytes } from 'node:crypto';
import { constants, copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { scratch } from '../lib.js';
import { auditStock, STOCK_EVENT_TYPES, type StockAudit, type StockEvent } from './audit.js';

export type StackName = 'embedded' | 'production';

export interface Stack {
  readonly name: StackName;
  /** The environment `tworooms seed` and the set-up server run with (the seeded original). */
  readonly baseEnv: Record<string, string>;
  /** Creates the empty original (before the seed). */
  prepare(): Promise<void>;
  /** A copy of the original for one run: the servers' environment and how to drop it. */
  copy(label: string): Promise<{ env: Record<string, string>; drop(): Promise<void> }>;
  /** The oversell check on a run's copy (its servers stopped). */
  audit(env: Record<string, string>): Promise<StockAudit>;
  cleanup(): Promise<void>;
}

// A database's WAL holds its latest commits until a checkpoint: it is copied along with it.
const FILES = ['write.db', 'write.db-wal', 'read.db', 'read.db-wal'];

function embedded(): Stack {
  const base = scratch('flash');
  const original = join(base.dir, 'original');
  mkdirSync(original);
  return {
    name: 'embedded',
    baseEnv: { TWOROOMS_DATA_DIR: original },
    async prepare() {},
    async copy(label) {
      const dir = join(base.dir, label);
      mkdirSync(dir);
      // No process has the files open now, so a database and its WAL copied together are whole.
      for (const f of FILES) {
        if (existsSync(join(original, f)))
          copyFileSync(join(original, f), join(dir, f), constants.COPYFILE_FICLONE);
      }
      return {
        env: { TWOROOMS_DATA_DIR: dir },
        drop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
    async audit(env) {
      const db = new Database(join(env['TWOROOMS_DATA_DIR']!, 'write.db'), { readonly: true });
      try {
        const events = db
          .prepare(
            `SELECT type, data FROM events WHERE type IN (${STOCK_EVENT_TYPES.map(() => '?').join(', ')}) ORDER BY position`,
          )
          .iterate(...STOCK_EVENT_TYPES) as Iterable<{ type: string; data: string }>;
        const parsed = (function* () {
          for (const e of events) yield { type: e.type, data: JSON.parse(e.data) } as StockEvent;
        })();
        return auditStock(
          [...parsed],
          db.prepare('SELECT product_id, warehouse, quantity FROM inventory').all() as never,
        );
      } finally {
        db.close();
      }
    },
    async cleanup() {
      base.cleanup();
    },
  };
}

/**
 * The production stack: PostgreSQL write and read databases (cloned per run with
 * `CREATE DATABASE … TEMPLATE`), Redis and NATS JetStream on their local default ports.
 * Each copy has its own Redis key prefix (cache and jobs). See docs/benchmarks.md.
 */
function production(): Stack {
  const admin = process.env['FLASH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redis = process.env['FLASH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const nats = process.env['FLASH_NATS_URL'] ?? 'nats://127.0.0.1:4222';
  const tag = `tworooms_flash_${randomBytes(4).toString('hex')}`;
  const dbUrl = (name: string) => {
    const u = new URL(admin);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const databases: string[] = [];
  const sql = async (statement: string) => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(statement);
    } finally {
      await c.end();
    }
  };
  // Each copy its own Redis prefix: copies hold the same product ids, so a shared cache would
  // serve one run's answers in the next.
  const cachePrefix = (name: string) => `tworooms:flash:${name}`;
  const envFor = (name: string) => ({
    TWOROOMS_WRITE_DB: dbUrl(`${name}_write`),
    TWOROOMS_READ_DB: dbUrl(`${name}_read`),
    TWOROOMS_CACHE: redis,
    TWOROOMS_CACHE_PREFIX: cachePrefix(name),
    TWOROOMS_BUS: nats,
  });
  /** Deletes every cache and job key of the copies made so far (prefix `tworooms:flash:<tag>`). */
  const dropRedisKeys = async () => {
    const client = new Redis(redis);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(
          cursor,
          'MATCH',
          `${cachePrefix(tag)}*`,
          'COUNT',
          1000,
        );
        if (keys.length > 0) await client.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
  };
  const create = async (name: string, template?: string) => {
    for (const part of ['write', 'read']) {
      await sql(
        `CREATE DATABASE ${name}_${part}${template ? ` TEMPLATE ${template}_${part}` : ''}`,
      );
      databases.push(`${name}_${part}`);
    }
  };
  const drop = async (name: string) => {
    for (const part of ['write', 'read']) {
      await sql(`DROP DATABASE IF EXISTS ${name}_${part} WITH (FORCE)`);
      databases.splice(databases.indexOf(`${name}_${part}`), 1);
    }
  };
  const stack: Stack = {
    name: 'production',
    baseEnv: { ...envFor(tag), TWOROOMS_DATA_DIR: scratch('flash-prod').dir },
    prepare: () => create(tag),
    async copy(label) {
      const name = `${tag}_${label.replace(/\W/g, '_')}`;
      await create(name, tag);
      return { env: envFor(name), drop: () => drop(name) };
    },
    async audit(env) {
      const c = new pg.Client({ connectionString: env['TWOROOMS_WRITE_DB']! });
      await c.connect();
      try {
        const events = await c.query<{ type: string; data: unknown }>(
          'SELECT type, data FROM events WHERE type = ANY($1) ORDER BY position',
          [STOCK_EVENT_TYPES],
        );
        const inventory = await c.query('SELECT product_id, warehouse, quantity FROM inventory');
        return auditStock(
          events.rows.map(
            (e) =>
              ({
                type: e.type,
                data: typeof e.data === 'string' ? JSON.parse(e.data) : e.data,
              }) as StockEvent,
          ),
          inventory.rows,
        );
      } finally {
        await c.end();
      }
    },
    async cleanup() {
      for (const d of [...databases].reverse())
        await sql(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`);
      await dropRedisKeys();
      rmSync(stack.baseEnv['TWOROOMS_DATA_DIR']!, { recursive: true, force: true });
    },
  };
  return stack;
}

/** The stack `--stack` names. */
export function openStack(name: StackName): Stack {
  return name === 'embedded' ? embedded() : production();
}
