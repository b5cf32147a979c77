/**
 * How one copy of a read model names its tables. Blue/green rebuilds build a second copy of a
 * projection's tables beside the live one, so the copy's SQL is the projection's own SQL with
 * each declared table name (and every name it prefixes with `_`, i.e. its indexes, FTS key
 * tables not declared…) given a suffix. Index names carry the generation that built them for
 * good: SQLite cannot rename an index, so a switch renames tables only.
 */
export interface TableNames {
  /** The projection's declared tables. */
  readonly tables: readonly string[];
  /** Appended to each declared table's name ('' for the live copy). */
  readonly tableSuffix: string;
  /** Appended to every other name a declared table prefixes with `_` (its indexes). */
  readonly indexSuffix: string;
}

import type { Sql } from './sql.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const rewriters = new WeakMap<TableNames, (text: string) => string>();

/** The suffix of generation `g`'s tables and indexes (`''` for generation 0, the first build). */
export const generationSuffix = (g: number): string => (g === 0 ? '' : `__g${g}`);

/** True when `names` leaves every name as it is (the live copy of a never-switched projection). */
export const isIdentity = (names: TableNames | undefined): boolean =>
  !names || (names.tableSuffix === '' && names.indexSuffix === '') || names.tables.length === 0;

/**
 * A function rewriting SQL text by `names` (memoised per text: projections repeat statements).
 * @example
 *   renameTables({ tables: ['rm_orders'], tableSuffix: '__g2', indexSuffix: '__g2' })(
 *     'CREATE INDEX rm_orders_by_time ON rm_orders (t)');
 *   // 'CREATE INDEX rm_orders_by_time__g2 ON rm_orders__g2 (t)'
 */
export function renameTables(names: TableNames): (text: string) => string {
  const existing = rewriters.get(names);
  if (existing) return existing;
  for (const t of names.tables)
    if (!IDENTIFIER.test(t)) throw new Error(`Invalid read-model table name: ${t}`);
  // Longest first: `rm_orders_daily` is a table of its own, not an index of `rm_orders`.
  const sorted = [...names.tables].sort((a, b) => b.length - a.length);
  const pattern = new RegExp(`\\b(${sorted.join('|')})(_[A-Za-z0-9_]*)?\\b`, 'g');
  const memo = new Map<string, string>();
  const rewrite = (text: string): string => {
    let out = memo.get(text);
    if (out === undefined) {
      out = isIdentity(names)
        ? text
        : text.replace(pattern, (_m, table: string, rest: string | undefined) =>
            rest ? `${table}${rest}${names.indexSuffix}` : `${table}${names.tableSuffix}`,
          );
      if (memo.size < 10_000) memo.set(text, out);
    }
    return out;
  };
  rewriters.set(names, rewrite);
  return rewrite;
}

/**
 * `sql` with its statements rewritten by `names`: what a store whose transaction handle is a
 * `Sql` gives `tx.db` for `transact(fn, {names})`.
 */
export function renamedSql(sql: Sql, names: TableNames): Sql {
  const rewrite = renameTables(names);
  return {
    dialect: sql.dialect,
    run: (text, params) => sql.run(rewrite(text), params),
    get: (text, params) => sql.get(rewrite(text), params),
    all: (text, params) => sql.all(rewrite(text), params),
    exec: (text) => sql.exec(rewrite(text)),
  };
}
