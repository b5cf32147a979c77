import type Database from 'better-sqlite3';
import { refuseNul, type Sql } from '../../core/sql.js';

const toSqlite = (v: unknown) =>
  typeof v === 'boolean' ? (v ? 1 : 0) : v === undefined ? null : v;
const cache = new WeakMap<Database.Database, Sql>();

/**
 * `Sql` on a better-sqlite3 connection, with one prepared statement per distinct SQL text
 * (prepared on first use, then reused: the hot paths pay no parsing).
 */
export function sqliteSql(db: Database.Database): Sql {
  const existing = cache.get(db);
  if (existing) return existing;
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let s = statements.get(sql);
    if (!s) {
      s = db.prepare(sql);
      statements.set(sql, s);
    }
    return s;
  };
  const args = (params: readonly unknown[] | undefined) => {
    if (!params) return [];
    refuseNul(params);
    return params.map(toSqlite);
  };
  const sql: Sql = {
    dialect: 'sqlite',
    run: async (text, params) => ({ changes: prepare(text).run(...args(params)).changes }),
    get: async <T>(text: string, params?: readonly unknown[]) =>
      prepare(text).get(...args(params)) as T | undefined,
    all: async <T>(text: string, params?: readonly unknown[]) =>
      prepare(text).all(...args(params)) as T[],
    exec: async (text) => {
      db.exec(text);
    },
  };
  cache.set(db, sql);
  return sql;
}
