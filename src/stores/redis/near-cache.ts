import type { Redis } from 'ioredis';
import { BoundedMap } from '../../core/bounded-map.js';
import type { Cache, CacheHit } from '../../core/cache.js';
import { InProcessCache } from '../memory/lru-cache.js';
import type { RedisCache } from './cache.js';

export interface NearCacheOptions {
  /** Entries held in this process (default 10,000; the least recently used go first). */
  readonly max?: number;
  /** Time to live of an entry in this process in ms (default 30 s, as Redis's). */
  readonly ttlMs?: number;
}

interface Ticket {
  readonly near: number;
  readonly far: number;
  /** The subscription's epoch when the ticket was taken. */
  readonly epoch: number;
}

/** Tickets remembered (the oldest forgotten first: a `set` with one of those is refused). */
const OPEN_TICKETS = 10_000;

/**
 * A Redis cache with a near layer in this process: the entries this process filled or fetched
 * are kept in memory too, so a repeated hit costs no Redis round trip (and `peek` answers
 * without a promise, as the in-process cache does). Redis stays the shared truth: every fill
 * goes through its race-free `set` first, and every invalidation and clear, from any process,
 * is published by Redis's own script on a channel this cache subscribes to.
 *
 * What the near layer changes: in the process that invalidates (the projector's), nothing — its
 * near entries go before Redis's. In another process sharing the prefix, an entry is dropped
 * when the invalidation message arrives (one pub/sub hop after Redis's), so for that long it may
 * still serve an answer that is correct as of its position but no longer the newest; a reader
 * holding a consistency token is never served an entry older than its token. A fill whose
 * ticket predates an invalidation is refused here as in Redis, whichever arrives first. While
 * the subscription is down (a lost connection), the near layer is empty and not filled: every
 * read goes to Redis, as without it.
 */
export class NearCache implements Cache {
  private readonly near: InProcessCache;
  private readonly subscriber: Redis;
  private readonly tickets = new BoundedMap<number, Ticket>(OPEN_TICKETS);
  private nextTicket = 0;
  /** Bumped whenever the subscription starts or stops: fills from before are not kept near. */
  private epoch = 0;
  /** Subscribed: invalidations from every process reach the near layer. */
  private listening = false;
  private closed = false;

  constructor(
    private readonly far: RedisCache,
    options: NearCacheOptions = {},
  ) {
    this.near = new InProcessCache({ max: options.max ?? 10_000, ttlMs: options.ttlMs ?? 30_000 });
    // Named, so that `CLIENT LIST` tells the near caches' subscriptions apart.
    this.subscriber = far.duplicate(`${far.channel}:near`);
    this.subscriber.on('error', () => undefined); // a lost subscription shows as `listening`
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== far.channel) return;
      if (message === '*') {
        void this.near.clear();
        return;
      }
      try {
        void this.near.invalidate(JSON.parse(message) as string[]);
      } catch {
        this.stopListening(); // cannot tell what changed: serve nothing near until resubscribed
      }
    });
    this.subscriber.on('close', () => this.stopListening());
    this.subscriber.on('ready', () => void this.listen());
  }

  /** Hits answered near or by Redis. */
  get hits(): number {
    return this.near.hits + this.far.hits;
  }

  get misses(): number {
    return this.far.misses;
  }

  /** Entries held in this process. */
  get nearSize(): number {
    return this.near.size;
  }

  /** Resolves once Redis answers and the near layer hears invalidations. */
  async ready(): Promise<void> {
    await this.far.ready();
    if (this.listening) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('Redis unreachable: no subscription for the near cache')),
        10_000,
      );
      this.whenListening = () => {
        clearTimeout(timer);
        resolve();
      };
      if (this.subscriber.status === 'ready') void this.listen();
    });
  }

  private whenListening: (() => void) | undefined;

  private async listen(): Promise<void> {
    if (this.closed) return;
    try {
      await this.subscriber.subscribe(this.far.channel);
    } catch {
      return; // the connection went again: 'ready' comes back with it
    }
    // What was held may have missed invalidations while the subscription was down.
    await this.near.clear();
    this.epoch++;
    this.listening = true;
    this.whenListening?.();
    this.whenListening = undefined;
  }

  private stopListening(): void {
    this.listening = false;
    this.epoch++;
    void this.near.clear();
  }

  peek<T>(key: string, use: (hit: CacheHit<T>) => boolean): CacheHit<T> | undefined {
    return this.listening ? this.near.peek(key, use) : undefined;
  }

  async get<T>(key: string): Promise<CacheHit<T> | undefined> {
    if (this.listening) {
      const hit = this.near.peek<T>(key, () => true);
      if (hit) return hit;
    }
    const ticket = await this.near.ticket();
    const epoch = this.epoch;
    const found = await this.far.getTagged<T>(key);
    if (!found) return undefined;
    if (this.listening && epoch === this.epoch)
      await this.near.set(key, found.hit, found.tags, ticket);
    return found.hit;
  }

  async ticket(): Promise<number> {
    const near = await this.near.ticket();
    const epoch = this.epoch;
    const far = await this.far.ticket();
    const id = ++this.nextTicket;
    this.tickets.set(id, { near, far, epoch });
    return id;
  }

  async set<T>(
    key: string,
    hit: CacheHit<T>,
    tags: readonly string[],
    ticket: number,
  ): Promise<boolean> {
    const t = this.tickets.get(ticket);
    if (!t) return false; // unknown, or forgotten among too many taken since
    const stored = await this.far.set(key, hit, tags, t.far);
    if (stored && this.listening && t.epoch === this.epoch)
      await this.near.set(key, hit, tags, t.near);
    return stored;
  }

  /** Near first: from here on this process serves none of them, then Redis (and the others). */
  async invalidate(tags: readonly string[]): Promise<void> {
    if (tags.length === 0) return;
    await this.near.invalidate(tags);
    await this.far.invalidate(tags);
  }

  async clear(): Promise<void> {
    await this.near.clear();
    await this.far.clear();
  }

  /** Closes the subscription (and the Redis cache). */
  async close(): Promise<void> {
    this.closed = true;
    this.listening = false;
    this.subscriber.disconnect();
    await this.far.close();
  }
}
