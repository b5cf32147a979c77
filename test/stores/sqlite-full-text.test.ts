import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ftsQuery } from '../../src/stores/sqlite/full-text.js';
import { openSqlite, sqliteFullText, sqliteSql } from '../../src/stores/sqlite/index.js';
import { fullTextSuite } from './full-text-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'tworooms-fts-'));
let n = 0;
let db: Database.Database | undefined;
afterEach(() => db?.close());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

fullTextSuite('sqliteFullText', {
  fts: sqliteFullText,
  async fresh() {
    db = openSqlite(join(dir, `fts-${++n}.db`));
    return sqliteSql(db);
  },
  async readOnly() {
    const reader = openSqlite(db!.name, { readonly: true });
    return { sql: sqliteSql(reader), close: async () => void reader.close() };
  },
  readOnlyError: /readonly/,
});

describe('ftsQuery', () => {
  it('builds the FTS5 query from words only', () => {
    expect(ftsQuery('green tea')).toBe('"green" "tea" *');
    expect(ftsQuery('  NEAR( "x" -y* ')).toBe('"NEAR" "x" "y" *');
    expect(ftsQuery('"*-\'')).toBeUndefined();
  });
});
