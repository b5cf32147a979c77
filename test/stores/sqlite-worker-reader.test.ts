// The SQLite reader on worker threads answers what a connection of the main thread answers,
// sees each commit at once, only reads, and refuses bad input as the other adapters do.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openSqlite,
  sqliteSql,
  sqliteWorkerSql,
  type WorkerSql,
} from '../../src/stores/sqlite/index.js';

describe('sqliteWorkerSql', () => {
  let dir: string;
  let db: Database.Database;
  let reader: WorkerSql;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tworooms-worker-reader-'));
    db = openSqlite(join(dir, 'r.db'));
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)');
    const insert = db.prepare('INSERT INTO t (id, name, price) VALUES (?, ?, ?)');
    for (let i = 1; i <= 500; i++) insert.run(i, `item ${i}`, i / 4);
    reader = sqliteWorkerSql(join(dir, 'r.db'), 3);
  });
  afterAll(async () => {
    await reader.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers get and all as a main-thread connection does, many statements in flight at once', async () => {
    const local = sqliteSql(db);
    const queries = Array.from(
      { length: 60 },
      (_, i) =>
        [
          'SELECT id, name, price FROM t WHERE id > ? ORDER BY id LIMIT ?',
          [i * 7, 1 + (i % 5)],
        ] as const,
    );
    const remote = await Promise.all(queries.map(([q, p]) => reader.all(q, p)));
    for (const [i, [q, p]] of queries.entries()) expect(remote[i]).toEqual(await local.all(q, p));
    expect(await reader.get('SELECT name FROM t WHERE id = ?', [42])).toEqual({ name: 'item 42' });
    expect(await reader.get('SELECT name FROM t WHERE id = ?', [999])).toBeUndefined();
    expect(await reader.get('SELECT ? AS yes, ? AS none', [true, undefined])).toEqual({
      yes: 1,
      none: null,
    });
  });

  it('sees each commit with its next statement', async () => {
    for (let i = 0; i < 5; i++) {
      db.prepare('UPDATE t SET name = ? WHERE id = 1').run(`renamed ${i}`);
      expect(await reader.get('SELECT name FROM t WHERE id = 1')).toEqual({ name: `renamed ${i}` });
    }
  });

  it('only reads; a bad statement or NUL in text is an error, and the threads go on', async () => {
    await expect(reader.run('DELETE FROM t')).rejects.toThrow(/read-only/);
    await expect(reader.exec('DROP TABLE t')).rejects.toThrow(/read-only/);
    await expect(reader.all('DELETE FROM t RETURNING id')).rejects.toThrow(/readonly|read-only/i);
    await expect(reader.all('SELECT nope FROM t')).rejects.toThrow(/no such column: nope/);
    await expect(reader.get('SELECT ? AS x', ['a\u0000b'])).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect(await reader.get('SELECT count(*) AS n FROM t')).toEqual({ n: 500 });
  });

  it('sends a statement to the thread with the least expected work, not behind a slow one', async () => {
    const two = sqliteWorkerSql(join(dir, 'r.db'), 2);
    try {
      const slow = () =>
        two.get<{ n: number }>(
          'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT count(*) AS n FROM c',
          [2_000_000],
        );
      const fast = (id: number) => two.get('SELECT name FROM t WHERE id = ?', [id]);
      expect(await slow()).toEqual({ n: 2_000_000 }); // its cost is learned
      await fast(1);
      const done: string[] = [];
      // One statement in flight on each thread: the slow one, and a fast one…
      const a = slow().then(() => done.push('slow'));
      const b = fast(2).then(() => done.push('fast 1'));
      // …then another fast one: by count of statements both threads are equally busy, by
      // expected work the second thread is free at once.
      const c = fast(3).then(() => done.push('fast 2'));
      await Promise.all([a, b, c]);
      expect(done).toEqual(['fast 1', 'fast 2', 'slow']);
    } finally {
      await two.close();
    }
  });

  it('refuses a thread count below 1, and every call once closed', async () => {
    expect(() => sqliteWorkerSql(join(dir, 'r.db'), 0)).toThrow(/threads/);
    const other = sqliteWorkerSql(join(dir, 'r.db'), 1);
    expect(await other.get('SELECT 1 AS one')).toEqual({ one: 1 });
    await other.close();
    await expect(other.get('SELECT 1 AS one')).rejects.toThrow(/closed/);
  });
});
