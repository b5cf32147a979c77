import type Database from 'better-sqlite3';
import type { Event } from '../../core/messages.js';
import { Mutex } from '../../core/mutex.js';
import type { Checkpoint, Projection, ReadStore, ReadTx } from '../../core/projection.js';
import { migrate, openSqlite, type SqliteSynchronous } from './open.js';
import { readStoreMigrations } from './schema.js';

export interface SqliteReadStoreOptions {
  /** The read DB file: read models and their checkpoints, apart from the write DB. */
  readonly path: string;
  /**
   * `normal` by default: a power loss can undo the last batches, but their checkpoint goes with
   * them, so the projector simply applies them again from the log.
   */
  readonly synchronous?: SqliteSynchronous;
}

interface CheckpointRow {
  name: string;
  version: number;
  position: number | bigint;
  status: 'running' | 'failed';
  failure: string | null;
}

/** Read models in their own SQLite file; each batch commits with its checkpoint. */
export class SqliteReadStore implements ReadStore<Database.Database> {
  readonly db: Database.Database;
  private readonly mutex = new Mutex();
  private readonly saveStmt: Database.Statement;
  private readonly path: string;

  constructor(options: SqliteReadStoreOptions) {
    this.path = options.path;
    this.db = openSqlite(options.path, { synchronous: options.synchronous ?? 'normal' });
    migrate(this.db, readStoreMigrations);
    this.saveStmt = this.db.prepare(
      `INSERT INTO tworooms_checkpoints (name, version, position, status, failure, updated_at)
       VALUES (@name, @version, @position, @status, @failure, @updatedAt)
       ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position,
         status = excluded.status, failure = excluded.failure, updated_at = excluded.updated_at`,
    );
  }

  async setup(projections: readonly Projection<Event, Database.Database>[]): Promise<void> {
    await this.transact(async (tx) => {
      for (const p of projections) await p.setup?.(tx.db);
    });
  }

  async loadCheckpoints(): Promise<ReadonlyMap<string, Checkpoint>> {
    const rows = this.db.prepare('SELECT * FROM tworooms_checkpoints').all() as CheckpointRow[];
    return new Map(
      rows.map((r) => {
        const failure = r.failure ? JSON.parse(r.failure) : undefined;
        const checkpoint: Checkpoint = {
          name: r.name,
          version: r.version,
          position: BigInt(r.position),
          status: r.status,
          ...(failure
            ? {
                failure: {
                  ...failure,
                  position: BigInt(failure.position),
                  at: new Date(failure.at),
                },
              }
            : {}),
        };
        return [r.name, checkpoint];
      }),
    );
  }

  transact<T>(fn: (tx: ReadTx<Database.Database>) => Promise<T> | T): Promise<T> {
    return this.mutex.run(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn({
          db: this.db,
          saveCheckpoint: async (c) => {
            this.saveStmt.run({
              name: c.name,
              version: c.version,
              position: c.position,
              status: c.status,
              failure: c.failure
                ? JSON.stringify({ ...c.failure, position: c.failure.position.toString() })
                : null,
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
    this.db.close();
  }
}

/** Opens (and migrates) the embedded read DB. */
export const sqliteReadStore = (options: SqliteReadStoreOptions) => new SqliteReadStore(options);
