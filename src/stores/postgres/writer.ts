import type pg from 'pg';

/** True when `error` means the connection itself broke (a transaction's outcome is then unknown). */
export const isConnectionError = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^(08|57P)/.test(code)) return true;
  return (
    error instanceof Error && /Connection terminated|not queryable|ECONNRESET/i.test(error.message)
  );
};

/** The store's one writing connection: taken from the pool, replaced when it breaks. */
export class Writer {
  constructor(
    private readonly pool: pg.Pool,
    private client: pg.PoolClient | undefined,
  ) {}

  /** The backend pid of the current connection (node-postgres keeps it, untyped in @types/pg). */
  get pid(): number | undefined {
    return (this.client as { processID?: number } | undefined)?.processID;
  }

  /** The writer connection (a new one after the last broke). */
  async connect(): Promise<pg.PoolClient> {
    this.client ??= await this.pool.connect();
    return this.client;
  }

  /** Drops the connection when it broke; the next transaction opens another. */
  recover(error: unknown): void {
    if (!isConnectionError(error) || !this.client) return;
    this.client.release(true);
    this.client = undefined;
  }

  /** Rolls the open transaction back after `cause` (or drops a broken connection). */
  async rollback(cause: unknown): Promise<void> {
    if (isConnectionError(cause)) return this.recover(cause);
    try {
      await this.client?.query('ROLLBACK');
    } catch (error) {
      this.recover(error);
    }
  }

  release(): void {
    this.client?.release();
    this.client = undefined;
  }
}
