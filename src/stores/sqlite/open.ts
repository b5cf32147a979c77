import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** `normal` (default): durable across process crashes; `full`: also across power loss (fsync per commit). */
export type SqliteSynchronous = 'normal' | 'full';

export interface OpenOptions {
  readonly synchronous?: SqliteSynchronous;
  readonly readonly?: boolean;
}

/** WAL pages after which a commit checkpoints (see `backgroundCheckpoints` to move that off). */
export const AUTOCHECKPOINT_PAGES = 4000;

/** Opens a SQLite file in WAL mode with the toolkit's settings; creates its folder if needed. */
export function openSqlite(path: string, options: OpenOptions = {}): Database.Database {
  if (path !== ':memory:' && !options.readonly) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, options.readonly ? { readonly: true, fileMustExist: true } : {});
  db.pragma('busy_timeout = 5000');
  if (options.readonly) {
    db.pragma('query_only = ON');
    return db;
  }
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${(options.synchronous ?? 'normal').toUpperCase()}`);
  db.pragma('foreign_keys = ON');
  // Fewer, larger WAL checkpoints keep commit latency flat under write bursts.
  db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  return db;
}

/** Applies named migrations once each, in order, recording them in `tworooms_migrations`. */
export function migrate(
  db: Database.Database,
  migrations: readonly { name: string; sql: string }[],
): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS tworooms_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)',
  );
  const applied = new Set(
    db.prepare('SELECT name FROM tworooms_migrations').pluck().all() as string[],
  );
  const record = db.prepare('INSERT INTO tworooms_migrations (name, applied_at) VALUES (?, ?)');
  for (const m of migrations) {
    if (applied.has(m.name)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.name, Date.now());
    }).immediate();
  }
}
