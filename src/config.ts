import { resolve } from 'node:path';

/** `TWOROOMS_READ_THREADS` when unset. */
export const DEFAULT_READ_THREADS = 0;

/** Everything configurable, read once from flags and environment, with the embedded defaults. */
export interface Config {
  readonly dataDir: string;
  /** A SQLite file path, or a `postgres://` URL (see `isPostgresUrl`). */
  readonly writeDb: string;
  /** A SQLite file path, or a `postgres://` URL: the same kind as `writeDb`. */
  readonly readDb: string;
  readonly readMode: 'read-model' | 'write-db';
  readonly port: number;
  readonly host: string;
  readonly adminToken: string | undefined;
  readonly rateLimitPerMinute: number;
  readonly sqliteSynchronous: 'normal' | 'full';
  /**
   * `TWOROOMS_READ_THREADS` (default 0): SQLite queries (level 1 on the write DB, level 2 on the
   * read DB) run on this many worker threads instead of the event loop.
   */
  readonly sqliteReadThreads: number;
  /**
   * `TWOROOMS_WRITE_THREAD` (`on`/`off`, default on): on SQLite, commands (their statements
   * and the group commit's fsync) run on a thread of their own instead of the event loop.
   */
  readonly sqliteWriteThread: boolean;
  /**
   * `TWOROOMS_PROJECT_THREAD` (`on`/`off`, default on): on SQLite, a `serve` that projects runs
   * the shop's projections (their log reads, statements and commits) and background jobs on a
   * thread of their own instead of the event loop that answers requests.
   */
  readonly sqliteProjectThread: boolean;
  readonly cacheTtlMs: number;
  readonly defaultWaitMs: number;
  /** How long a background job waits for more triggers of the same key (debounce), in ms. */
  readonly jobDelayMs: number;
  /** A live projection starts a batch at most once per this many ms (TWOROOMS_PROJECT_COALESCE_MS). */
  readonly projectCoalesceMs: number;
  /** `TWOROOMS_CACHE=redis://…`: the Redis cache; undefined: the in-process cache. */
  readonly cache: CacheConfig | undefined;
  /** `TWOROOMS_BUS=nats://…`: NATS JetStream; undefined: in-process notify only. */
  readonly bus: BusConfig | undefined;
}

export interface CacheConfig {
  readonly url: string;
  /** `TWOROOMS_CACHE_PREFIX` (default `tworooms:cache`): processes sharing it share the cache. */
  readonly prefix: string;
  /**
   * `TWOROOMS_JOBS_PREFIX` (default `<cache prefix>:jobs`): the BullMQ queues' key prefix on the
   * same Redis; processes sharing it share the background jobs.
   */
  readonly jobsPrefix: string;
  /**
   * `TWOROOMS_CACHE_NEAR` (`on`/`off`, default on): each process also keeps the entries it uses
   * in memory, dropped by the invalidations Redis publishes (`NearCache`).
   */
  readonly near: boolean;
}

export interface BusConfig {
  /** One or several (comma-separated) `nats://host:port` URLs. */
  readonly url: string;
  /** `TWOROOMS_BUS_STREAM` (default `TWOROOMS_EVENTS`). */
  readonly stream: string;
  /** `TWOROOMS_BUS_PREFIX` (default `tworooms`): subjects are `<prefix>.events.<EventType>`. */
  readonly prefix: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** True for a PostgreSQL connection URL (`postgres://…` or `postgresql://…`). */
export const isPostgresUrl = (value: string): boolean => /^postgres(ql)?:\/\//.test(value);

/** A database setting: a PostgreSQL URL as given, or a SQLite file path made absolute. */
const dbLocation = (value: string, name: string): string => {
  if (isPostgresUrl(value)) {
    try {
      new URL(value);
    } catch {
      throw new ConfigError(`${name} is not a valid PostgreSQL URL.`);
    }
    return value;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !/^sqlite:/.test(value)) {
    throw new ConfigError(
      `${name}=${value.replace(/\/\/[^@/]*@/, '//…@')}: expected a SQLite file path or a postgres:// URL.`,
    );
  }
  return resolve(value.replace(/^sqlite:(\/\/)?/, ''));
};

/** The write and read DBs are both SQLite files or both PostgreSQL databases. */
function sameKind(writeDb: string, readDb: string): void {
  if (isPostgresUrl(writeDb) !== isPostgresUrl(readDb)) {
    throw new ConfigError(
      'TWOROOMS_WRITE_DB and TWOROOMS_READ_DB must both be SQLite files or both postgres:// URLs (got one of each).',
    );
  }
  if (writeDb === readDb) {
    throw new ConfigError(
      'TWOROOMS_WRITE_DB and TWOROOMS_READ_DB must name two different databases: read models live apart from the write DB.',
    );
  }
}

const integer = (
  value: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number => {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got ${value}).`);
  return n;
};

const inProcess = (v: string | undefined) => !v || v === 'memory' || v === 'in-process';

function cacheConfig(env: NodeJS.ProcessEnv): CacheConfig | undefined {
  const url = env['TWOROOMS_CACHE'];
  if (inProcess(url)) return undefined;
  if (!/^rediss?:\/\/[^\s]+$/.test(url ?? ''))
    throw new ConfigError(`TWOROOMS_CACHE=${url}: use memory or a redis://host:port URL.`);
  const prefix = env['TWOROOMS_CACHE_PREFIX'] || 'tworooms:cache';
  return {
    url: url as string,
    prefix,
    jobsPrefix: env['TWOROOMS_JOBS_PREFIX'] || `${prefix}:jobs`,
    near: onOff(env['TWOROOMS_CACHE_NEAR'], 'TWOROOMS_CACHE_NEAR', true),
  };
}

function busConfig(env: NodeJS.ProcessEnv): BusConfig | undefined {
  const url = env['TWOROOMS_BUS'];
  if (inProcess(url)) return undefined;
  if (!(url ?? '').split(',').every((u) => /^nats:\/\/[^\s/,]+$/.test(u.trim())))
    throw new ConfigError(
      `TWOROOMS_BUS=${url}: use in-process or nats://host:port (comma-separated for a cluster).`,
    );
  const stream = env['TWOROOMS_BUS_STREAM'] || 'TWOROOMS_EVENTS';
  if (!/^[A-Za-z0-9_-]+$/.test(stream))
    throw new ConfigError(`TWOROOMS_BUS_STREAM=${stream}: use letters, digits, - and _.`);
  const prefix = env['TWOROOMS_BUS_PREFIX'] || 'tworooms';
  if (!/^[^\s.*>]+(\.[^\s.*>]+)*$/.test(prefix))
    throw new ConfigError(
      `TWOROOMS_BUS_PREFIX=${prefix}: use dot-separated tokens without wildcards.`,
    );
  return { url: url as string, stream, prefix };
}

/** `on`/`off` (also `true`/`false`, `1`/`0`); unset or empty: `fallback`. */
function onOff(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  const v = value.toLowerCase();
  if (v === 'on' || v === 'true' || v === '1') return true;
  if (v === 'off' || v === 'false' || v === '0') return false;
  throw new ConfigError(`${name} must be on or off (got ${value}).`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env['TWOROOMS_DATA_DIR'] || './data');
  const readMode = env['TWOROOMS_READS'] || 'read-model';
  if (readMode !== 'read-model' && readMode !== 'write-db') {
    throw new ConfigError(`TWOROOMS_READS must be read-model or write-db (got ${readMode}).`);
  }
  const sync = (env['TWOROOMS_SQLITE_SYNCHRONOUS'] || 'full').toLowerCase();
  if (sync !== 'normal' && sync !== 'full')
    throw new ConfigError('TWOROOMS_SQLITE_SYNCHRONOUS must be normal or full.');
  const writeDb = dbLocation(
    env['TWOROOMS_WRITE_DB'] || `${dataDir}/write.db`,
    'TWOROOMS_WRITE_DB',
  );
  const readDb = dbLocation(env['TWOROOMS_READ_DB'] || `${dataDir}/read.db`, 'TWOROOMS_READ_DB');
  sameKind(writeDb, readDb);
  return {
    dataDir,
    writeDb,
    readDb,
    readMode,
    port: integer(env['PORT'], 'PORT', 3000, 0, 65535),
    host: env['HOST'] || '127.0.0.1',
    adminToken: env['TWOROOMS_ADMIN_TOKEN'] || undefined,
    rateLimitPerMinute: integer(
      env['TWOROOMS_RATE_LIMIT'],
      'TWOROOMS_RATE_LIMIT',
      0,
      0,
      100_000_000,
    ),
    sqliteSynchronous: sync,
    sqliteReadThreads: integer(
      env['TWOROOMS_READ_THREADS'],
      'TWOROOMS_READ_THREADS',
      DEFAULT_READ_THREADS,
      0,
      64,
    ),
    sqliteWriteThread: onOff(env['TWOROOMS_WRITE_THREAD'], 'TWOROOMS_WRITE_THREAD', true),
    sqliteProjectThread: onOff(env['TWOROOMS_PROJECT_THREAD'], 'TWOROOMS_PROJECT_THREAD', true),
    cacheTtlMs: integer(
      env['TWOROOMS_CACHE_TTL_MS'],
      'TWOROOMS_CACHE_TTL_MS',
      30_000,
      0,
      86_400_000,
    ),
    defaultWaitMs: integer(env['TWOROOMS_WAIT_MS'], 'TWOROOMS_WAIT_MS', 2000, 0, 10_000),
    jobDelayMs: integer(env['TWOROOMS_JOB_DELAY_MS'], 'TWOROOMS_JOB_DELAY_MS', 1000, 0, 600_000),
    projectCoalesceMs: integer(
      env['TWOROOMS_PROJECT_COALESCE_MS'],
      'TWOROOMS_PROJECT_COALESCE_MS',
      0,
      0,
      1000,
    ),
    cache: cacheConfig(env),
    bus: busConfig(env),
  };
}
