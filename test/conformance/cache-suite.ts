import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/core/cache.js';

export interface CacheFixture {
  readonly cache: Cache;
  /** Another cache over the same shared state (a second API process), when the store has one. */
  sibling?(): Promise<Cache>;
  cleanup(): Promise<void>;
}

export interface CacheFactoryOptions {
  readonly ttlMs?: number;
}

/** Polls `check` until it holds (deadline 10 s): no fixed sleeps. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const page = (n: number) => ({ items: [{ id: `p${n}`, priceCents: 100 * n }], total: n });

/** The `Cache` port's contract, run against every implementation. */
export function cacheConformance(
  name: string,
  create: (options?: CacheFactoryOptions) => Promise<CacheFixture>,
): void {
  describe(`Cache conformance: ${name}`, () => {
    let fixture: CacheFixture;
    let cache: Cache;
    const extra: CacheFixture[] = [];
    beforeEach(async () => {
      fixture = await create();
      cache = fixture.cache;
    });
    afterEach(async () => {
      for (const f of extra.splice(0)) await f.cleanup();
      await fixture.cleanup();
    });

    it('misses, then serves what was set with its position', async () => {
      expect(await cache.get('k')).toBeUndefined();
      const ticket = await cache.ticket();
      expect(await cache.set('k', { value: page(1), position: 42n }, ['product:p1'], ticket)).toBe(
        true,
      );
      expect(await cache.get('k')).toEqual({ value: page(1), position: 42n });
      expect(await cache.get('other')).toBeUndefined();
    });

    it('keeps positions beyond 2^53 exact', async () => {
      const position = 2n ** 63n - 1n;
      await cache.set('big', { value: { n: 1 }, position }, [], await cache.ticket());
      expect((await cache.get('big'))?.position).toBe(position);
    });

    it('drops exactly the entries carrying an invalidated tag', async () => {
      const t = await cache.ticket();
      await cache.set('a', { value: 1, position: 1n }, ['product:1', 'pages'], t);
      await cache.set('b', { value: 2, position: 1n }, ['product:2', 'pages'], t);
      await cache.set('c', { value: 3, position: 1n }, ['docs'], t);
      await cache.invalidate(['product:1']);
      expect(await cache.get('a')).toBeUndefined();
      expect((await cache.get('b'))?.value).toBe(2);
      await cache.invalidate(['pages']);
      expect(await cache.get('b')).toBeUndefined();
      expect((await cache.get('c'))?.value).toBe(3);
    });

    it('refuses a set when a tag was invalidated between ticket and set (the race)', async () => {
      const ticket = await cache.ticket();
      // ... the query reads the read model here, then the projector commits and invalidates:
      await cache.invalidate(['product:1']);
      expect(await cache.set('k', { value: 'old', position: 1n }, ['product:1'], ticket)).toBe(
        false,
      );
      expect(await cache.get('k')).toBeUndefined();
      // other tags were not touched: an answer that does not show product 1 is stored
      expect(await cache.set('j', { value: 'ok', position: 1n }, ['product:2'], ticket)).toBe(true);
    });

    it('accepts a set whose ticket was taken after the invalidation', async () => {
      await cache.invalidate(['product:1']);
      const ticket = await cache.ticket();
      expect(await cache.set('k', { value: 'new', position: 2n }, ['product:1'], ticket)).toBe(
        true,
      );
      expect((await cache.get('k'))?.value).toBe('new');
    });

    it('replaces an entry on a second set', async () => {
      await cache.set('k', { value: 'v1', position: 1n }, ['t'], await cache.ticket());
      await cache.set('k', { value: 'v2', position: 2n }, ['t'], await cache.ticket());
      expect(await cache.get('k')).toEqual({ value: 'v2', position: 2n });
    });

    it('clear drops every entry and refuses tickets taken before it', async () => {
      const old = await cache.ticket();
      await cache.set('a', { value: 1, position: 1n }, ['x'], old);
      await cache.set('b', { value: 2, position: 1n }, [], old);
      await cache.clear();
      expect(await cache.get('a')).toBeUndefined();
      expect(await cache.get('b')).toBeUndefined();
      expect(await cache.set('c', { value: 3, position: 1n }, [], old)).toBe(false);
      const fresh = await cache.ticket();
      expect(await cache.set('c', { value: 3, position: 1n }, ['x'], fresh)).toBe(true);
      expect((await cache.get('c'))?.value).toBe(3);
    });

    it('no fill that began before a clear survives it, however the calls interleave', async () => {
      // Fills read "the old read model" (ticket first, as the query bus does), a switch commits,
      // clear runs; the fills land before, during and after it. None of them may be served.
      let clearing: Promise<void> | undefined;
      const fills = Array.from({ length: 20 }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, i % 3));
        const before = clearing === undefined; // its ticket is asked for before the clear
        const ticket = await cache.ticket();
        await new Promise((resolve) => setTimeout(resolve, i % 4));
        await cache.set(`f${i}`, { value: before ? 'old' : 'new', position: 1n }, [], ticket);
      });
      await new Promise((resolve) => setTimeout(resolve, 1));
      clearing = cache.clear();
      await Promise.all([...fills, clearing]);
      for (let i = 0; i < 20; i++) expect((await cache.get(`f${i}`))?.value).not.toBe('old');
      const ticket = await cache.ticket();
      expect(await cache.set('after', { value: 'new', position: 2n }, [], ticket)).toBe(true);
      expect((await cache.get('after'))?.value).toBe('new');
    });

    it('expires entries after the TTL', async () => {
      const short = await create({ ttlMs: 150 });
      extra.push(short);
      await short.cache.set('k', { value: 1, position: 1n }, ['t'], await short.cache.ticket());
      expect((await short.cache.get('k'))?.value).toBe(1);
      await eventually(async () => (await short.cache.get('k')) === undefined, 'expiry');
    });

    it('never serves an answer older than an invalidation, under interleaved writers', async () => {
      // Many readers fill the cache while a writer bumps a version and invalidates; whatever is
      // cached at the end must show the last version.
      let version = 0;
      const readers = Array.from({ length: 20 }, async (_, i) => {
        const ticket = await cache.ticket();
        const seen = version;
        await new Promise((resolve) => setTimeout(resolve, i % 5));
        await cache.set('doc', { value: seen, position: BigInt(seen) }, ['product:1'], ticket);
      });
      const writer = (async () => {
        for (let n = 1; n <= 10; n++) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          version = n;
          await cache.invalidate(['product:1']);
        }
      })();
      await Promise.all([...readers, writer]);
      const hit = await cache.get<number>('doc');
      if (hit) expect(hit.value).toBe(10);
    });

    it('shares entries and invalidations with a sibling over the same state', async (ctx) => {
      if (!fixture.sibling) return ctx.skip();
      const other = await fixture.sibling();
      await other.set('k', { value: 'from B', position: 3n }, ['product:1'], await other.ticket());
      expect(await cache.get('k')).toEqual({ value: 'from B', position: 3n });
      await cache.invalidate(['product:1']);
      expect(await other.get('k')).toBeUndefined();
      // the race across processes: B takes a ticket, A invalidates, B's set is refused
      const ticket = await other.ticket();
      await cache.invalidate(['product:1']);
      expect(await other.set('k', { value: 'stale', position: 3n }, ['product:1'], ticket)).toBe(
        false,
      );
      await cache.clear();
      const stale = await other.ticket();
      expect(stale).toBeGreaterThanOrEqual(0);
      await other.set('j', { value: 1, position: 1n }, [], stale);
      expect((await cache.get('j'))?.value).toBe(1);
    });
  });
}
