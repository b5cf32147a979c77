/** A cached answer and the read-model position it was computed at. */
export interface CacheHit<T> {
  readonly value: T;
  readonly position: bigint;
}

/**
 * A cache of query answers with tag-based invalidation that cannot be raced: take a `ticket()`
 * before reading the read model, and `set` refuses to store an answer if any of its tags was
 * invalidated after that ticket (the answer might predate the change). Invalidation runs after
 * the read model committed the change (the projector's `onApplied`), so a stored entry is never
 * older than the model it claims to show.
 */
export interface Cache {
  get<T>(key: string): Promise<CacheHit<T> | undefined>;
  /**
   * `get` without I/O or a promise, for caches that hold their entries in this process (absent
   * on the others): the entry under `key` if `use` accepts it, then counted as a hit. A miss or a
   * refused entry is not counted: the caller goes on to `get`.
   */
  peek?<T>(key: string, use: (hit: CacheHit<T>) => boolean): CacheHit<T> | undefined;
  ticket(): Promise<number>;
  set<T>(key: string, hit: CacheHit<T>, tags: readonly string[], ticket: number): Promise<boolean>;
  invalidate(tags: readonly string[]): Promise<void>;
  /**
   * Drops everything and refuses every ticket taken before it, so no fill that began before the
   * clear survives it (e.g. after a blue/green switch). Never rejects.
   */
  clear(): Promise<void>;
}
