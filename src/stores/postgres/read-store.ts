import type pg from 'pg';
import type { Event } from '../../core/messages.js';
import { Mutex } from '../../core/mutex.js';
import {
  type Checkpoint,
  CheckpointConflict,
  decodeCheckpointMeta,
  decodeFailure,
  encodeCheckpointMeta,
  encodeFailure,
  type Projection,
  type ReadStore,
  type ReadTables,
  type ReadTransactOptions,
  type ReadTx,
} from '../../core/projection.js';
import { isIdentity } from '../../core/table-names.js';
import { migrate } from './migrate.js';
import { openPool } from './pool.js';
import { renamedClient } from './renamed-client.js';
import { takeSetupLock } from './setup-lock.js';
import { pgSql } from './sql.js';

export interface PostgresReadStoreOptions {
  /** The read DB: read models and their checkpoints, a database apart from the write DB. */
  readonly connectionString: string;
  /** Connections for the projector's transactions (default 2). */
  readonly poolSize?: number;
  /** Connections of the read-only pool that query handlers use (default 10). */
  readonly readPoolSize?: number;
  /**
   * How long a blue/green switch waits for the queries holding a live table before it gives way
   * and tries again (default 50 ms): the queries queued behind it wait at most that long.
   */
  readonly switchLockTimeoutMs?: number;
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
  {
    // Which generation of the tables serves, and the positions an operator skipped.
    name: '0002_checkpoint_meta',
    sql: 'ALTER TABLE tworooms_checkpoints ADD COLUMN meta TEXT',
  },
] as const;

interface CheckpointRow {
  name: string;
  version: number;
  position: string;
  status: 'running' | 'failed';
  failure: string | null;
  meta: string | null;
}

function checkpointOf(r: CheckpointRow): Checkpoint {
  const failure = decodeFailure(r.failure);
  return {
    name: r.name,
    version: r.version,
    position: BigInt(r.position),
    status: r.status,
    ...(failure ? { failure } : {}),
    ...decodeCheckpointMeta(r.meta),
  };
}

const COLUMNS = 'name, version, position, status, failure, meta';

/** Identifiers are quoted; a name with a double quote is refused rather than escaped. */
const quote = (name: string) => {
  if (name.includes('"')) throw new Error(`Invalid table name: ${name}`);
  return `"${name}"`;
};

/** PostgreSQL's lock_not_available: `lock_timeout` ran out. */
const LOCK_NOT_AVAILABLE = '55P03';
/** How many times a switch gives way to queries before it fails (and the rebuild with it). */
const SWITCH_LOCK_ATTEMPTS = 200;

/**
 * Read models in their own PostgreSQL database; each batch commits with its checkpoint, in one
 * transaction on a pooled client (`tx.db`). Query handlers read through `readOnly()`, a pool
 * whose sessions refuse writes. Blue/green rebuilds and verify work on it as on SQLite: PostgreSQL's
 * DDL is transactional, so a switch's renames commit with its checkpoint.
 * @example
 *   const readStore = await PostgresReadStore.open({ connectionString: 'postgres://…/shop_read' });
 *   const answer = await pgSql(readStore.readOnly()).all('SELECT * FROM catalog_items LIMIT 24');
 */
/** Which of `tables` exist in the current schema, in name order. */
async function existingTables(client: pg.PoolClient, tables: readonly string[]) {
  const { rows } = await client.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class
      WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'
        AND relname = ANY($1) ORDER BY relname`,
    [tables],
  );
  return rows.map((r) => r.name);
}

export class PostgresReadStore implements ReadStore<pg.PoolClient> {
  readonly pool: pg.Pool;
  private readonly reader: pg.Pool;
  private readonly mutex = new Mutex();
  private readonly switchLockTimeoutMs: number;

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
    this.switchLockTimeoutMs = options.switchLockTimeoutMs ?? 50;
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
    await this.transact(
      async (tx) => {
        for (const p of projections) await p.setup?.(tx.db);
      },
      { schema: true },
    );
  }

  async loadCheckpoints(): Promise<ReadonlyMap<string, Checkpoint>> {
    const { rows } = await this.pool.query<CheckpointRow>(
      `SELECT ${COLUMNS} FROM tworooms_checkpoints`,
    );
    return new Map(rows.map((r) => [r.name, checkpointOf(r)]));
  }

  /** Blue/green table operations on the transaction's client (PostgreSQL DDL is transactional). */
  private tablesOn(client: pg.PoolClient): ReadTables {
    return {
      list: async () => {
        const { rows } = await client.query<{ name: string }>(
          'SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()',
        );
        return rows.map((r) => r.name);
      },
      rename: async (from, to) => {
        await client.query(`ALTER TABLE ${quote(from)} RENAME TO ${quote(to)}`);
      },
      drop: async (name) => {
        await client.query(`DROP TABLE IF EXISTS ${quote(name)}`);
      },
      // Through pgSql: BIGINT columns read as numbers, as from SQLite.
      rows: (name) => pgSql(client).all<Record<string, unknown>>(`SELECT * FROM ${quote(name)}`),
      checkpoint: async (name) => {
        const { rows } = await client.query<CheckpointRow>(
          `SELECT ${COLUMNS} FROM tworooms_checkpoints WHERE name = $1 FOR UPDATE`,
          [name],
        );
        return rows[0] ? checkpointOf(rows[0]) : undefined;
      },
      deleteCheckpoint: async (name) => {
        await client.query('DELETE FROM tworooms_checkpoints WHERE name = $1', [name]);
      },
      lock: (names) => this.lockForSwitch(client, names),
      deferIndexes: async (tables, keep) => {
        // Secondary indexes only: those backing a constraint (primary keys, UNIQUE) stay.
        const { rows } = await client.query<{ name: string; sql: string }>(
          `SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS sql
             FROM pg_index x
             JOIN pg_class i ON i.oid = x.indexrelid
             JOIN pg_class t ON t.oid = x.indrelid
            WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY($1)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
            ORDER BY i.relname`,
          [tables],
        );
        const kept = new Set(keep);
        const indexes: string[] = [];
        for (const r of rows) {
          if (kept.has(r.name)) continue;
          await client.query(`DROP INDEX ${quote(r.name)}`);
          indexes.push(r.sql);
        }
        const existing = (await existingTables(client, tables)).map(quote);
        // Built UNLOGGED: the copy's many row versions (a product is rewritten by each of its
        // events) then write no WAL, nor the full-page images each checkpoint asks for again;
        // SET LOGGED writes each table to the WAL once, before its indexes are built. Nothing is
        // lost by a crash meanwhile: an unfinished copy is dropped and started over anyway.
        for (const t of existing) await client.query(`ALTER TABLE ${t} SET UNLOGGED`);
        return [
          ...existing.map((t) => `ALTER TABLE ${t} SET LOGGED`),
          ...indexes,
          // A table filled from nothing has no statistics yet: the planner gets them before the
          // switch, not from autovacuum some time after it.
          ...existing.map((t) => `ANALYZE ${t}`),
        ];
      },
      analyze: async (tables) => {
        for (const t of await existingTables(client, tables))
          await client.query(`ANALYZE ${quote(t)}`);
      },
      createIndexes: async (statements) => {
        // One process per index build (no parallel workers): the build is background work and
        // leaves the other cores to the queries the live copy is serving meanwhile.
        await client.query('SET LOCAL max_parallel_maintenance_workers = 0');
        for (const s of statements) await client.query(s);
      },
    };
  }

  /**
   * ACCESS EXCLUSIVE on the live tables, for the renames of a switch. A query holding one of
   * them makes the LOCK wait, and the queries arriving meanwhile queue behind it; so the wait
   * is bounded by a short `lock_timeout`, after which the switch gives way (back to a savepoint:
   * the copy's last batch stays) and tries again. A query is never failed, only briefly delayed,
   * and a switch that would deadlock with a query times out long before `deadlock_timeout`.
   */
  private async lockForSwitch(client: pg.PoolClient, names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    const statement = `LOCK TABLE ${names.map(quote).join(', ')} IN ACCESS EXCLUSIVE MODE`;
    await client.query(
      `SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.switchLockTimeoutMs))}`,
    );
    for (let attempt = 1; ; attempt++) {
      await client.query('SAVEPOINT tworooms_switch');
      try {
        await client.query(statement);
        await client.query('RELEASE SAVEPOINT tworooms_switch');
        break;
      } catch (error) {
        await client.query('ROLLBACK TO SAVEPOINT tworooms_switch');
        if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
        if (attempt >= SWITCH_LOCK_ATTEMPTS) throw error;
        await new Promise((r) => setTimeout(r, Math.min(200, 5 * attempt)));
      }
    }
    await client.query('SET LOCAL lock_timeout = 0');
  }

  /** Upserts `c`; given `from`, only if the stored position is still `from` (see ReadTx). */
  private async save(client: pg.PoolClient, c: Checkpoint, from: bigint | undefined) {
    const values = [
      c.name,
      c.version,
      c.position.toString(),
      c.status,
      c.failure ? encodeFailure(c.failure) : null,
      encodeCheckpointMeta(c),
      Date.now(),
    ];
    if (from === undefined) {
      await client.query(
        `INSERT INTO tworooms_checkpoints (${COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (name) DO UPDATE SET version = excluded.version,
           position = excluded.position, status = excluded.status, failure = excluded.failure,
           meta = excluded.meta, updated_at = excluded.updated_at`,
        values,
      );
      return;
    }
    // Under READ COMMITTED a concurrent UPDATE of the row makes this one wait, then re-check
    // its WHERE against the committed row: the loser of a race updates nothing.
    const updated = await client.query(
      `UPDATE tworooms_checkpoints SET version = $2, position = $3, status = $4, failure = $5,
         meta = $6, updated_at = $7 WHERE name = $1 AND position = $8`,
      [...values, from.toString()],
    );
    if (updated.rowCount === 1) return;
    if (from === 0n) {
      const inserted = await client.query(
        `INSERT INTO tworooms_checkpoints (${COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (name) DO NOTHING`,
        values,
      );
      if (inserted.rowCount === 1) return;
    }
    const { rows } = await client.query<{ position: string }>(
      'SELECT position FROM tworooms_checkpoints WHERE name = $1',
      [c.name],
    );
    throw new CheckpointConflict(c.name, from, rows[0] ? BigInt(rows[0].position) : undefined);
  }

  transact<T>(
    fn: (tx: ReadTx<pg.PoolClient>) => Promise<T> | T,
    options: ReadTransactOptions = {},
  ): Promise<T> {
    const { names } = options;
    return this.mutex.run(async () => {
      const client = await this.pool.connect();
      let broken: unknown;
      try {
        await client.query('BEGIN');
        // Processes starting together create the same tables: one at a time (see withSetupLock).
        if (options.schema) await takeSetupLock(client);
        const result = await fn({
          db: names && !isIdentity(names) ? renamedClient(client, names) : client,
          tables: this.tablesOn(client),
          saveCheckpoint: (c, from) => this.save(client, c, from),
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
