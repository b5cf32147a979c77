import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { HeldLeases, type LeaseManager } from '../../core/lease.js';

/** Another process already projects into this SQLite read DB. */
export class ProjectorLockHeld extends Error {
  override readonly name = 'ProjectorLockHeld';
}

/**
 * The embedded store's projector lock: one process projects into a SQLite read DB, the others
 * are refused at start with a clear error (there is no standby on one machine's files). The lock
 * is an exclusive SQLite transaction on a small file beside the read DB: the operating system
 * drops it the moment the process ends, however it ends, so a crashed projector never leaves a
 * stale lock behind. Every `tryAcquire` succeeds while the lock is held (all projections run here).
 * @example
 *   const leases = sqliteProjectorLock(`${readDbPath}.projector-lock`); // throws if held
 */
export function sqliteProjectorLock(path: string): LeaseManager {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('journal_mode = DELETE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY'))
      throw new ProjectorLockHeld(
        `another process already runs the projector on this SQLite read DB (${path} is locked): on the embedded store run one projector — \`tworooms serve\` or \`tworooms project\` — and \`tworooms serve --no-projector\` beside it.`,
      );
    throw error;
  }
  const held = new HeldLeases();
  let closed = false;
  return {
    async tryAcquire(name) {
      if (closed) throw new Error('The projector lock is released.');
      if (held.has(name)) return undefined;
      return held.add(name);
    },
    async close() {
      if (closed) return;
      closed = true;
      held.loseAll();
      db.exec('ROLLBACK');
      db.close();
    },
  };
}
