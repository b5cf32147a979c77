import { Redis } from 'ioredis';
import type { Cache, CacheHit } from '../../core/cache.js';
import { decodeJson, encodeJson } from '../../core/json.js';
import { CLEAR, GET, INVALIDATE, SET } from './cache-scripts.js';

/** Back-off of the background retry of a lost clear. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

export interface RedisCacheOptions {
  /** A connection URL (`redis://127.0.0.1:6379/0`) or a client this cache may share (not closed). */
  readonly redis: string | Redis;
  /** Prefix of every key this cache owns (default `tworooms:cache`); processes sharing it share the cache. */
  readonly prefix?: string;
  /** Time to live of an entry in ms (default 30 s; 0: no expiry). */
  readonly ttlMs?: number;
}

interface Scripted {
  cacheGet(
    entry: string,
    floor: string,
    tagPrefix: string,
  ): Promise<[string, string, string] | null>;
  cacheSet(
    entry: string,
    floor: string,
    tagPrefix: string,
    ticket: string,
    ttl: string,
    tags: string,
    position: string,
    value: string,
  ): Promise<number>;
  cacheInvalidate(
    clock: string,
    tagPrefix: string,
    channel: string,
    ...tags: string[]
  ): Promise<string>;
  cacheClear(clock: string, floor: string, channel: string): Promise<string>;
}

/**
 * The production cache: entries in Redis, shared by every API process using the same prefix,
 * with the race-free tag semantics of the `Cache` port across processes. Keys:
 * `<prefix>:clock` (the version clock), `<prefix>:floor` (set by `clear`), `<prefix>:tag:<tag>`
 * (the version at which a tag was last invalidated), `<prefix>:entry:<key>` (a hash: stamp, tags,
 * position, value). An entry is served only if none of its tags was invalidated after its stamp,
 * so `invalidate` writes one key per tag and never looks entries up (no KEYS/SCAN). Everything
 * here can be lost at any time: it is only a cache. A Redis failure reads as a miss and never
 * fails a query; a failed `invalidate` makes the next successful call `clear` the cache first.
 */
export class RedisCache implements Cache {
  private readonly redis: Redis & Scripted;
  private readonly ownsClient: boolean;
  private readonly keys;
  private readonly ttlMs: number;
  /** An invalidation or a clear may have been lost: serve nothing until a `clear` has gone through. */
  private mustClear = false;
  /** Retries a lost clear in the background (other processes share the entries it must void). */
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelayMs = RETRY_MIN_MS;
  private closed = false;
  /** The pub/sub channel on which invalidations (a JSON array of tags) and clears (`*`) go out. */
  readonly channel: string;
  hits = 0;
  misses = 0;
  /** Redis calls that failed (served as misses or refused sets). */
  errors = 0;

  constructor(options: RedisCacheOptions) {
    const client =
      typeof options.redis === 'string'
        ? new Redis(options.redis, {
            // A cache must answer fast or not at all: no queueing while disconnected.
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            lazyConnect: false,
          })
        : options.redis;
    this.ownsClient = typeof options.redis === 'string';
    if (this.ownsClient) client.on('error', () => undefined); // reported through `errors`
    client.defineCommand('cacheGet', { numberOfKeys: 2, lua: GET });
    client.defineCommand('cacheSet', { numberOfKeys: 2, lua: SET });
    client.defineCommand('cacheInvalidate', { numberOfKeys: 1, lua: INVALIDATE });
    client.defineCommand('cacheClear', { numberOfKeys: 2, lua: CLEAR });
    this.redis = client as Redis & Scripted;
    const prefix = options.prefix ?? 'tworooms:cache';
    this.keys = {
      clock: `${prefix}:clock`,
      floor: `${prefix}:floor`,
      tag: `${prefix}:tag:`,
      entry: (key: string) => `${prefix}:entry:${key}`,
    };
    this.channel = `${prefix}:invalidated`;
    this.ttlMs = options.ttlMs ?? 30_000;
  }

  async get<T>(key: string): Promise<CacheHit<T> | undefined> {
    return this.fetch(key, (found) => hitOf<T>(found));
  }

  /** `get`, with the tags the entry was stored under (what a near cache keeps it by). */
  getTagged<T>(
    key: string,
  ): Promise<{ readonly hit: CacheHit<T>; readonly tags: readonly string[] } | undefined> {
    return this.fetch(key, (found) => ({
      hit: hitOf<T>(found),
      tags: JSON.parse(found[2]) as string[],
    }));
  }

  /** Reads an entry (position, value, tags JSON) into `read`'s answer; a failure is a miss. */
  private async fetch<R>(
    key: string,
    read: (found: [string, string, string]) => R,
  ): Promise<R | undefined> {
    try {
      if (this.mustClear) {
        await this.clear();
        if (this.mustClear) return this.miss();
      }
      const found = await this.redis.cacheGet(this.keys.entry(key), this.keys.floor, this.keys.tag);
      if (!found) return this.miss();
      this.hits++;
      return read(found);
    } catch {
      this.errors++;
      return this.miss();
    }
  }

  /** A new connection to the same Redis (for a subscription), named; the caller closes it. */
  duplicate(connectionName: string): Redis {
    return this.redis.duplicate({ connectionName });
  }

  async ticket(): Promise<number> {
    try {
      return Number((await this.redis.get(this.keys.clock)) ?? 0);
    } catch {
      this.errors++;
      return -1; // below every floor: the matching `set` is refused
    }
  }

  async set<T>(
    key: string,
    hit: CacheHit<T>,
    tags: readonly string[],
    ticket: number,
  ): Promise<boolean> {
    if (ticket < 0 || this.mustClear) return false;
    try {
      const stored = await this.redis.cacheSet(
        this.keys.entry(key),
        this.keys.floor,
        this.keys.tag,
        String(ticket),
        String(this.ttlMs),
        JSON.stringify(tags),
        hit.position.toString(),
        encodeJson(hit.value),
      );
      return stored === 1;
    } catch {
      this.errors++;
      return false;
    }
  }

  /** Never rejects (it runs after the read model committed): a failure schedules a `clear`. */
  async invalidate(tags: readonly string[]): Promise<void> {
    if (tags.length === 0) return;
    try {
      await this.redis.cacheInvalidate(this.keys.clock, this.keys.tag, this.channel, ...tags);
    } catch {
      this.errors++;
      this.clearLater();
    }
  }

  /**
   * Voids every entry and every ticket taken before it, atomically in Redis (a fill that took its
   * ticket earlier is refused, whenever it arrives). Never rejects (it runs after a blue/green
   * switch committed): if Redis cannot be reached, this process serves nothing from the cache
   * and retries the clear in the background until it goes through, since other processes would
   * otherwise serve the entries it had to void once Redis is back.
   */
  async clear(): Promise<void> {
    try {
      await this.redis.cacheClear(this.keys.clock, this.keys.floor, this.channel);
      this.mustClear = false;
      this.retryDelayMs = RETRY_MIN_MS;
    } catch {
      this.errors++;
      this.clearLater();
    }
  }

  private clearLater(): void {
    this.mustClear = true;
    if (this.retryTimer || this.closed) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(RETRY_MAX_MS, delay * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.mustClear && !this.closed) void this.clear();
    }, delay);
    this.retryTimer.unref?.();
  }

  /** Resolves once connected (commands fail fast, as misses, while disconnected). */
  async ready(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        this.redis.off('ready', ok);
        reject(new Error(`Redis unreachable: ${error.message}`));
      };
      const ok = () => {
        this.redis.off('error', fail);
        resolve();
      };
      this.redis.once('ready', ok);
      this.redis.once('error', fail);
    });
  }

  /** Closes the connection if this cache opened it. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.ownsClient) this.redis.disconnect();
  }

  private miss(): undefined {
    this.misses++;
    return undefined;
  }
}

const hitOf = <T>(found: [string, string, string]): CacheHit<T> => ({
  position: BigInt(found[0]),
  value: decodeJson<T>(found[1]),
});

/** A Redis-backed cache (see `RedisCache`). */
export const redisCache = (options: RedisCacheOptions) => new RedisCache(options);
