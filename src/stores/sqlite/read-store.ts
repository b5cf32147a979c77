import type Database from 'better-sqlite3';
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
import { type BackgroundCheckpoints, checkpointsOf } from './checkpointer.js';
import { migrate, openSqlite, type SqliteSynchronous } from './open.js';
import { renamedDb } from './renamed-db.js';
import { readStoreMigrations } from './schema.js';

export interface SqliteReadStoreOptions {
  /** The read DB file: read models and their checkpoints, apart from the write DB. */
  readonly path: string;
  /**
   * `normal` by default: a power loss can undo the last batches, but their checkpoint goes with
   * them, so the projector simply applies them again from the log.
   */
  readonly synchronous?: SqliteSynchronous;
  /**
   * Checkpoint the WAL on a background thread instead of on the commit that fills it (default
   * false): commits then never stall on copying the WAL into the file (`backgroundCheckpoints`).
   */
  readonly backgroundCheckpoints?: boolean;
}

interface CheckpointRow {
  name: string;
  version: number;
  position: number | bigint;
  status: 'running' | 'failed';
  failure: string | null;
  meta: string | null;
}

/** Identifiers are quoted; a name with a double quote is refused rather than escaped. */
const quote = (name: string) => {
  if (name.includes('"')) throw new Error(`Invalid table name: ${name}`);
  return `"${name}"`;
};

function toCheckpoint(r: CheckpointRow): Checkpoint {
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

/** Read models in their own SQLite file; each batch commits with its checkpoint. */
export class SqliteReadStore implements ReadStore<Database.Database> {
  readonly db: Database.Database;
  private readonly mutex = new Mutex();
  private readonly saveStmt: Database.Statement;
  private readonly positionStmt: Database.Statement;
  private readonly path: string;
  private readonly checkpoints: BackgroundCheckpoints | undefined;

  constructor(options: SqliteReadStoreOptions) {
    this.path = options.path;
    this.db = openSqlite(options.path, { synchronous: options.synchronous ?? 'normal' });
    migrate(this.db, readStoreMigrations);
    this.checkpoints = options.backgroundCheckpoints
      ? checkpointsOf(this.db, options.path)
      : undefined;
    this.positionStmt = this.db
      .prepare('SELECT position FROM tworooms_checkpoints WHERE name = ?')
      .pluck()
      .safeIntegers();
    this.saveStmt = this.db.prepare(
      `INSERT INTO tworooms_checkpoints (name, version, position, status, failure, meta, updated_at)
       VALUES (@name, @version, @position, @status, @failure, @meta, @updatedAt)
       ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position,
         status = excluded.status, failure = excluded.failure, meta = excluded.meta,
         updated_at = excluded.updated_at`,
    );
  }

  async setup(projections: readonly Projection<Event, Database.Database>[]): Promise<void> {
    await this.transact(async (tx) => {
      for (const p of projections) await p.setup?.(tx.db);
    });
  }

  async loadCheckpoints(): Promise<ReadonlyMap<string, Checkpoint>> {
    const rows = this.db.prepare('SELECT * FROM tworooms_checkpoints').all() as CheckpointRow[];
    return new Map(rows.map((r) => [r.name, toCheckpoint(r)]));
  }

  /** Blue/green table operations (SQLite's ALTER TABLE … RENAME and DROP are transactional). */
  private readonly tables: ReadTables = {
    list: async () =>
      this.db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .pluck()
        .all() as string[],
    rename: async (from, to) => {
      this.db.exec(`ALTER TABLE ${quote(from)} RENAME TO ${quote(to)}`);
    },
    drop: async (name) => {
      this.db.exec(`DROP TABLE IF EXISTS ${quote(name)}`);
    },
    rows: async (name) =>
      this.db.prepare(`SELECT * FROM ${quote(name)}`).all() as Record<string, unknown>[],
    checkpoint: async (name) => {
      const row = this.db.prepare('SELECT * FROM tworooms_checkpoints WHERE name = ?').get(name);
      return row ? toCheckpoint(row as CheckpointRow) : undefined;
    },
    deleteCheckpoint: async (name) => {
      this.db.prepare('DELETE FROM tworooms_checkpoints WHERE name = ?').run(name);
    },
    deferIndexes: async (tables, keep) => {
      const kept = new Set(keep);
      const rows = this.db
        .prepare(
          `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
             AND tbl_name IN (SELECT value FROM json_each(?)) ORDER BY name`,
        )
        .all(JSON.stringify(tables)) as { name: string; sql: string }[];
      const deferred: string[] = [];
      for (const r of rows) {
        if (kept.has(r.name)) continue;
        this.db.exec(`DROP INDEX ${quote(r.name)}`);
        deferred.push(r.sql);
      }
      return deferred;
    },
    createIndexes: async (statements) => {
      for (const s of statements) this.db.exec(s);
    },
  };

  transact<T>(
    fn: (tx: ReadTx<Database.Database>) => Promise<T> | T,
    options: ReadTransactOptions = {},
  ): Promise<T> {
    const names = options.names;
    const db = names && !isIdentity(names) ? renamedDb(this.db, names) : this.db;
    return this.mutex.run(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn({
          db,
          tables: this.tables,
          saveCheckpoint: async (c, from) => {
            if (from !== undefined) {
              // BEGIN IMMEDIATE: no other writer can move the row between this read and the write.
              const stored = this.positionStmt.get(c.name) as number | bigint | undefined;
              const at = stored === undefined ? 0n : BigInt(stored);
              if (at !== from)
                throw new CheckpointConflict(c.name, from, stored === undefined ? undefined : at);
            }
            this.saveStmt.run({
              name: c.name,
              version: c.version,
              position: c.position,
              status: c.status,
              failure: c.failure ? encodeFailure(c.failure) : null,
              meta: encodeCheckpointMeta(c),
              updatedAt: Date.now(),
            });
          },
        });
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  /** A read-only connection to the read DB, for query handlers: writing through it fails. */
  readOnly(): Database.Database {
    return openSqlite(this.path, { readonly: true });
  }

  async close(): Promise<void> {
    await this.mutex.run(() => undefined);
    await this.checkpoints?.close();
    this.db.close();
  }
}

/** Opens (and migrates) the embedded read DB. */
export const sqliteReadStore = (options: SqliteReadStoreOptions) => new SqliteReadStore(options);
