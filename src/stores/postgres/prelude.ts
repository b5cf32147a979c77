import type pg from 'pg';

/**
 * What a group-commit transaction still owes the server before its next statement: `BEGIN`
 * (not sent until a job first needs the database) and, for each job of a shared group, its
 * `SAVEPOINT`. They ride in front of the job's first statement as one multi-statement query, so
 * they cost no round trip of their own.
 */
export class Prelude {
  private begun = false;
  /** The current job's savepoint has been sent. */
  savepointTaken = false;
  /** Statements the current job has sent. */
  statements = 0;

  constructor(
    private readonly client: pg.ClientBase,
    private readonly savepoints: boolean,
  ) {}

  get inTransaction(): boolean {
    return this.begun;
  }

  /** A new job starts: it owes its own savepoint. */
  nextJob(): void {
    this.savepointTaken = false;
    this.statements = 0;
  }

  private owed(): string {
    let sql = this.begun ? '' : 'BEGIN; ';
    if (this.savepoints && !this.savepointTaken) sql += 'SAVEPOINT job; ';
    return sql;
  }

  private sent(): void {
    this.begun = true;
    if (this.savepoints) this.savepointTaken = true;
    this.statements++;
  }

  /** Sends `BEGIN` if it is still owed (and no savepoint). */
  async begin(): Promise<void> {
    if (this.begun) return;
    await this.client.query('BEGIN');
    this.begun = true;
  }

  /** Sends what is owed on its own, before a statement that cannot carry it. */
  async flush(): Promise<void> {
    const owed = this.owed();
    this.sent(); // counted as sent even if it fails: the job then rolls back to its savepoint
    if (owed) await this.client.query(owed);
  }

  /**
   * Runs one statement: with what is owed in front of its literal form (one round trip), or,
   * when nothing is owed, as the prepared statement `prepared`.
   */
  async run<R extends pg.QueryResultRow>(
    prepared: pg.QueryConfig,
    literal: () => string,
  ): Promise<pg.QueryResult<R>> {
    const owed = this.owed();
    if (!owed) {
      this.statements++;
      return this.client.query<R>(prepared);
    }
    this.sent();
    const results = (await this.client.query(owed + literal())) as unknown as pg.QueryResult<R>[];
    return results.at(-1)!;
  }

  /** The client as a job sees it: every query first sends what is owed. */
  handle<C extends pg.ClientBase>(client: C): C {
    const flush = () => this.flush();
    return new Proxy(client, {
      get(target, prop) {
        if (prop === 'query') {
          return (...args: unknown[]) => {
            const callback = args.at(-1);
            const run = flush().then(() =>
              (target.query as (...a: unknown[]) => unknown).apply(target, args),
            );
            if (typeof callback === 'function') {
              run.catch((error: unknown) => (callback as (e: unknown) => void)(error));
              return undefined;
            }
            return run;
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}

/** A SQL text array literal, e.g. `ARRAY['a','b']::text[]`. */
export const textArray = (client: pg.ClientBase, xs: readonly string[]): string =>
  xs.length === 0
    ? `'{}'::text[]`
    : `ARRAY[${xs.map((x) => client.escapeLiteral(x)).join(',')}]::text[]`;
