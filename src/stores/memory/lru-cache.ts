import { LRUCache } from 'lru-cache';
import type { Cache, CacheHit } from '../../core/cache.js';

export interface LruCacheOptions {
  /** Entries kept at most (default 10,000). */
  readonly max?: number;
  /** Time to live in ms (default 30 s). */
  readonly ttlMs?: number;
}

interface Entry {
  readonly hit: CacheHit<unknown>;
  readonly tags: readonly string[];
}

/**
 * The embedded cache: an in-process LRU with a TTL, tag index and race-free invalidation
 * (see the `Cache` port). Counts hits and misses for `/metrics`.
 */
export class InProcessCache implements Cache {
  private readonly entries: LRUCache<string, Entry>;
  private readonly keysByTag = new Map<string, Set<string>>();
  /** tag -> generation at which it was last invalidated */
  private readonly invalidatedAt = new Map<string, number>();
  private generation = 0;
  /** Tickets older than this are refused (set by `clear`). */
  private floor = 0;
  hits = 0;
  misses = 0;

  constructor(options: LruCacheOptions = {}) {
    this.entries = new LRUCache<string, Entry>({
      max: options.max ?? 10_000,
      ttl: options.ttlMs ?? 30_000,
      dispose: (entry, key) => {
        for (const tag of entry.tags) {
          const keys = this.keysByTag.get(tag);
          keys?.delete(key);
          if (keys?.size === 0) this.keysByTag.delete(tag);
        }
      },
    });
  }

  async get<T>(key: string): Promise<CacheHit<T> | undefined> {
    const entry = this.entries.get(key);
    if (entry) this.hits++;
    else this.misses++;
    return entry?.hit as CacheHit<T> | undefined;
  }

  peek<T>(key: string, use: (hit: CacheHit<T>) => boolean): CacheHit<T> | undefined {
    const hit = this.entries.get(key)?.hit as CacheHit<T> | undefined;
    if (!hit || !use(hit)) return undefined;
    this.hits++;
    return hit;
  }

  async ticket(): Promise<number> {
    return this.generation;
  }

  async set<T>(
    key: string,
    hit: CacheHit<T>,
    tags: readonly string[],
    ticket: number,
  ): Promise<boolean> {
    if (ticket < this.floor || tags.some((t) => (this.invalidatedAt.get(t) ?? -1) > ticket))
      return false;
    this.entries.set(key, { hit, tags });
    for (const tag of tags) {
      let keys = this.keysByTag.get(tag);
      if (!keys) {
        keys = new Set();
        this.keysByTag.set(tag, keys);
      }
      keys.add(key);
    }
    return true;
  }

  async invalidate(tags: readonly string[]): Promise<void> {
    this.generation++;
    for (const tag of tags) {
      this.invalidatedAt.set(tag, this.generation);
      for (const key of [...(this.keysByTag.get(tag) ?? [])]) this.entries.delete(key);
    }
  }

  async clear(): Promise<void> {
    this.generation++;
    this.entries.clear();
    this.invalidatedAt.clear();
    // every ticket taken before now is refused, whatever its tags
    this.floor = this.generation;
  }

  /** Number of live entries (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }
}

export const inProcessCache = (options?: LruCacheOptions) => new InProcessCache(options);
