import type { Cache } from '../core/cache.js';
import type { Query } from '../core/messages.js';
import type { QueryOptions } from '../core/query-bus.js';
import type { ShopQueryAnswers } from './queries.js';

/** What a read answers: the value, the read-model position it reflects, and where it came from. */
export interface ReadAnswer<T> {
  readonly value: T;
  readonly position: bigint;
  readonly stale: boolean;
  readonly source: 'read-model' | 'write-db' | 'cache';
}

type ShopQuery = Query<keyof ShopQueryAnswers & string>;

export interface Asker {
  ask(
    query: ShopQuery,
    options?: QueryOptions,
  ): Promise<{ value: unknown; stale: boolean; position: bigint | undefined }>;
}

export interface ReadOptions {
  readonly after?: bigint;
  readonly waitMs?: number;
  /** When the read model cannot catch up in time, answer from the write DB instead. */
  readonly fallback?: boolean;
  /** Cache this answer under `key`, invalidated by `tags`. */
  readonly cache?: { readonly key: string; readonly tags: (value: never) => readonly string[] };
}

export interface ShopReadsOptions {
  readonly mode: 'read-model' | 'write-db';
  /** Level-2 queries (read DB); absent in write-db mode. */
  readonly readModel?: Asker;
  /** Level-1 queries (write DB): the write-db mode's answers and the fallback of the other. */
  readonly writeDb: Asker;
  readonly cache?: Cache;
  /** The log head: the position a write-DB answer reflects. */
  readonly headPosition: () => Promise<bigint>;
}

/**
 * The read side as the HTTP layer sees it: level 2 with cache and consistency waits, or level 1,
 * or level 2 falling back to level 1 when the read model is behind the caller's token.
 */
export function shopReads(options: ShopReadsOptions) {
  const fromWriteDb = async <T>(query: ShopQuery): Promise<ReadAnswer<T>> => {
    const position = await options.headPosition();
    const { value } = await options.writeDb.ask(query);
    return { value: value as T, position, stale: false, source: 'write-db' };
  };
  return {
    /**
     * The cached answer under `key` when this process holds it (an in-process cache), it reflects
     * `after` and `use` accepts it: what `read` would answer from the cache, without a promise.
     * Undefined when `read` must answer.
     */
    cached<K extends keyof ShopQueryAnswers>(
      key: string,
      after: bigint | undefined,
      use: (value: ShopQueryAnswers[K]) => boolean,
    ): ReadAnswer<ShopQueryAnswers[K]> | undefined {
      const { cache } = options;
      if (options.mode === 'write-db' || !options.readModel || !cache?.peek) return undefined;
      const hit = cache.peek<ShopQueryAnswers[K]>(
        key,
        (h) => (after === undefined || h.position >= after) && use(h.value),
      );
      return hit && { value: hit.value, position: hit.position, stale: false, source: 'cache' };
    },
    async read<K extends keyof ShopQueryAnswers>(
      query: Query<K & string>,
      read: ReadOptions = {},
    ): Promise<ReadAnswer<ShopQueryAnswers[K]>> {
      const { readModel, cache } = options;
      if (options.mode === 'write-db' || !readModel) return fromWriteDb(query);
      const useCache = cache && read.cache;
      if (useCache) {
        const hit = await cache.get<ShopQueryAnswers[K]>(read.cache.key);
        if (hit && (read.after === undefined || hit.position >= read.after)) {
          return { value: hit.value, position: hit.position, stale: false, source: 'cache' };
        }
      }
      // The ticket is taken once the wait for the caller's token is over: the invalidations of
      // the changes it waited for came before it, and the answer read next includes them.
      let ticket = 0;
      const answer = await readModel.ask(query, {
        ...(read.after === undefined ? {} : { after: read.after }),
        ...(read.waitMs === undefined ? {} : { waitMs: read.waitMs }),
        ...(useCache
          ? {
              beforeRead: async () => {
                ticket = await cache.ticket();
              },
            }
          : {}),
      });
      if (answer.stale && read.fallback) return fromWriteDb(query);
      const value = answer.value as ShopQueryAnswers[K];
      const position = answer.position ?? 0n;
      if (useCache && !answer.stale && value !== null) {
        await cache.set(
          read.cache.key,
          { value, position },
          read.cache.tags(value as never),
          ticket,
        );
      }
      return { value, position, stale: answer.stale, source: 'read-model' };
    },
  };
}

export type ShopReads = ReturnType<typeof shopReads>;
