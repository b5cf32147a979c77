import pg from 'pg';

export interface PoolOptions {
  readonly connectionString: string;
  /** Connections kept at most (default 10). */
  readonly max?: number;
  /**
   * Every session starts with `default_transaction_read_only = on`: a statement that writes
   * fails, which is how query handlers get a handle that cannot change state.
   */
  readonly readOnly?: boolean;
}

/** A pg pool with the toolkit's settings; idle connections that fail are dropped, not thrown. */
export function openPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    ...(options.readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
  });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on('error', () => {});
  return pool;
}
