// WAL checkpoints on a background thread: a commit that fills the WAL no longer copies it into
// the database file on the committing thread; the thread does, soon after; closing it gives the
// connection its automatic checkpoints back.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  backgroundCheckpoints,
  openSqlite,
  SqliteEventStore,
  SqliteReadStore,
} from '../../src/stores/sqlite/index.js';
import { eventually } from './services.js';

/** Commits about 6,000 pages (4 KiB each): past the automatic checkpoint's 4,000. */
const fillWal = (db: Database.Database) => {
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 6000; i++) insert.run(Buffer.alloc(3500, i % 251));
  })();
};

describe('backgroundCheckpoints', () => {
  let dir: string;
  let path: string;
  let db: Database.Database;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tworooms-checkpoints-'));
    path = join(dir, 'c.db');
    db = openSqlite(path);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
    db.pragma('wal_checkpoint(TRUNCATE)');
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const fileBytes = () => statSync(path).size;

  it('without it, the commit that fills the WAL checkpoints on the committing thread', () => {
    const before = fileBytes();
    fillWal(db);
    expect(fileBytes()).toBeGreaterThan(before + 10_000_000);
  });

  it('with it, the commit leaves the WAL alone and the thread copies it into the file soon after', async () => {
    // A long interval first: nothing but the commit could have checkpointed.
    const idle = backgroundCheckpoints(db, path, { everyMs: 3_600_000 });
    const before = fileBytes();
    fillWal(db);
    expect(fileBytes()).toBe(before);
    expect(idle.frames).toBe(0);
    await idle.close();

    const checkpoints = backgroundCheckpoints(db, path, { everyMs: 10 });
    try {
      await eventually(() => fileBytes() > before + 10_000_000, 'the WAL copied into the file');
      await eventually(() => checkpoints.frames > 5000, 'the copied frames reported');
      expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 6000 });
    } finally {
      await checkpoints.close();
    }
  });

  /** This process's threads (Linux task ids) with their nice values, from /proc. */
  const niceByThread = () => {
    const nice = new Map<number, number>();
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        // After the command name in parentheses: field 3 (state) onward; field 19 is the nice value.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        nice.set(Number(tid), Number(fields[16]));
      } catch {
        // the thread ended while listed
      }
    }
    return nice;
  };

  it.runIf(process.platform === 'linux')(
    'runs on a thread of the lowest CPU priority (nice 19), the rest of the process untouched',
    async () => {
      const before = niceByThread();
      const processNice = getPriority();
      const checkpoints = backgroundCheckpoints(db, path, { everyMs: 10 });
      try {
        const tid = await eventually(
          () => [...niceByThread()].find(([t, n]) => n === 19 && !before.has(t))?.[0],
          'a new thread at nice 19',
        );
        // It is the checkpointing thread: it copies the WAL into the file.
        fillWal(db);
        await eventually(() => checkpoints.frames > 5000, 'the WAL copied by the thread');
        expect(niceByThread().get(tid)).toBe(19);
        // The threads that were there keep their priority, the process's included.
        for (const [t, n] of before) {
          const now = niceByThread().get(t);
          if (now !== undefined) expect(now).toBe(n);
        }
        expect(getPriority()).toBe(processNice);
      } finally {
        await checkpoints.close();
      }
    },
  );

  it('gives the connection its automatic checkpoints back once closed', async () => {
    const checkpoints = backgroundCheckpoints(db, path, { everyMs: 3_600_000 });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(50_000);
    await checkpoints.close();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
  });

  it('is what the stores use when asked, and they close it with themselves', async () => {
    const read = new SqliteReadStore({ path: join(dir, 'read.db'), backgroundCheckpoints: true });
    const write = new SqliteEventStore({
      path: join(dir, 'write.db'),
      backgroundCheckpoints: true,
    });
    expect(read.db.pragma('wal_autocheckpoint', { simple: true })).toBe(50_000);
    expect(write.db.pragma('wal_autocheckpoint', { simple: true })).toBe(50_000);
    await read.close();
    await write.close();
    expect(read.db.open).toBe(false);
    const plain = new SqliteReadStore({ path: join(dir, 'plain.db') });
    expect(plain.db.pragma('wal_autocheckpoint', { simple: true })).toBe(4000);
    await plain.close();
  });
});
