import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteReadStore } from '../../src/stores/sqlite/index.js';

describe('SqliteReadStore checkpoints on its helper thread', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('checkpoints the WAL after commits without the owner doing it, and closes cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tworooms-helper-'));
    dirs.push(dir);
    const path = join(dir, 'read.db');
    const store = new SqliteReadStore({ path });
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    await store.transact((tx) => {
      tx.db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    });
    for (let i = 0; i < 20; i++) {
      await store.transact((tx) => {
        const insert = tx.db.prepare('INSERT INTO t (v) VALUES (?)');
        for (let j = 0; j < 200; j++) insert.run('x'.repeat(200));
      });
    }
    // In WAL mode the database file grows only by checkpoints, and the owner runs none.
    let size = statSync(path).size;
    for (let tries = 0; tries < 100 && size < 800_000; tries++) {
      await new Promise((r) => setTimeout(r, 20));
      size = statSync(path).size;
    }
    expect(size).toBeGreaterThan(800_000);
    await store.close();
    const reopened = new Database(path, { readonly: true });
    expect(reopened.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 4000 });
    reopened.close();
  });
});
