import type pg from 'pg';
import type { Event } from '../../core/messages.js';
import { Mutex } from '../../core/mutex.js';
import {
  type Checkpoint,
  decodeFailure,
  encodeFailure,
  type Projection,
  type ReadStore,
  type ReadTx,
} from '../../core/projection.js';
import { migrate } from './migrate.js';
import { openPool } from './pool.js';
import { takeSetupLock } from './setup-lock.js';

export interface PostgresReadStoreOptions {
  /** The read DB: read models and their checkpoints, a database apart from the write DB. */
  readonly connectionString: string;
  /** Connections for the projector's transactions (default 2). */
  readonly poolSize?: number;
  /** Connections of the read-only pool that query handlers use (default 10). */
  readonly readPoolSize?: number;
}

/** The read DB's bookkeeping: one checkpoint row per projection. */
export const postgresReadStoreMigrations = [
  {
    name: '0001_checkpoints',
    sql: `
      CREATE TABLE tworooms_checkpoints (
        name       TEXT    PRIMARY KEY,
        version    INTEGER NOT NULL,
        position   BIGINT  NOT NULL,
        status     TEXT    NOT NULL,
        failure    TEXT,
        updated_at BIGINT  NOT NULL
      );`,
  },
] as const;

interface CheckpointRow {
  name: string;
  version: number;
  position: string;
  status: 'running' | 'failed';
  failure: string | null;
}

function checkpointOf(r: CheckpointRow): Checkpoint {
  const failure = decodeFailure(r.failure);
  return {
    name: r.name,
    version: r.version,
    position: BigInt(r.position),
    status: r.status,
    ...(failure ? { failure } : {}),
  };
}

/**
 * Read models in their own PostgreSQL database; each batch commits with its checkpoint, in one
 * transaction on a pooled client (`tx.db`). Query handlers read through `readOnly()`, a pool
 * whose sessions refuse writes.
 * @example
 *   const readStore = await PostgresReadStore.open({ connectionString: 'postgres://…/shop_read' });
 *   const answer = await pgSql(readStore.readOnly()).all('SELECT * FROM catalog_items LIMIT 24');
 */
export class PostgresReadStore implements ReadStore<pg.PoolClient> {
  readonly pool: pg.Pool;
  private readonly reader: pg.Pool;
  private readonly mutex = new Mutex();

  private constructor(options: PostgresReadStoreOptions) {
    this.pool = openPool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 2,
    });
    this.reader = openPool({
      connectionString: options.connectionString,
      max: options.readPoolSize ?? 10,
      readOnly: true,
    });
  }

  /** Connects and creates the checkpoint table if missing. */
  static async open(options: PostgresReadStoreOptions): Promise<PostgresReadStore> {
    const store = new PostgresReadStore(options);
    try {
      await migrate(store.pool, postgresReadStoreMigrations);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async setup(projections: readonly Projection<Event, pg.PoolClient>[]): Promise<void> {
    await this.transact(async (tx) => {
      // Processes starting together create the same tables: one at a time (see withSetupLock).
      await takeSetupLock(tx.db);
      for (const p of projections) await p.setup?.(tx.db);
    });
  }

  async loadCheckpoints(): Promise<ReadonlyMap<string, Checkpoint>> {
    const { rows } = await this.pool.query<CheckpointRow>(
      'SELECT name, version, position, status, failure FROM tworooms_checkpoints',
    );
    return new Map(rows.map((r) => [r.name, checkpointOf(r)]));
  }

  transact<T>(fn: (tx: ReadTx<pg.PoolClient>) => Promise<T> | T): Promise<T> {
    return this.mutex.run(async () => {
      const client = await this.pool.connect();
      let broken: unknown;
      try {
        await client.query('BEGIN');
        const result = await fn({
          db: client,
          saveCheckpoint: async (c) => {
            await client.query(
              `INSERT INTO tworooms_checkpoints (name, version, position, status, failure, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (name) DO UPDATE SET version = excluded.version,
                 position = excluded.position, status = excluded.status,
                 failure = excluded.failure, updated_at = excluded.updated_at`,
              [
                c.name,
                c.version,
                c.position.toString(),
                c.status,
                c.failure ? encodeFailure(c.failure) : null,
                Date.now(),
              ],
            );
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((e: unknown) => {
          broken = e; // the connection is unusable: release destroys it
        });
        throw error;
      } finally {
        client.release(broken instanceof Error ? broken : undefined);
      }
    });
  }

  /** A pool on the read DB for query handlers: its sessions are read-only, so a write fails. */
  readOnly(): pg.Pool {
    return this.reader;
  }

  async close(): Promise<void> {
    await this.mutex.run(() => undefined);
    await Promise.all([this.pool.end(), this.reader.end()]);
  }
}
