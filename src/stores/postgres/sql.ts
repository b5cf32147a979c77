import pg from 'pg';
import { refuseNul, type Sql } from '../../core/sql.js';

const INT8 = 20;
const NUMERIC = 1700;

/**
 * Type parsers given with every query (not set on the global `pg.types`, so other users of
 * `pg` in the process keep its defaults): BIGINT, COUNT and SUM come back as JS numbers, as
 * they do from SQLite.
 */
const numbersAsNumbers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

const converted = new Map<string, string>();

/**
 * Numbers the `?` placeholders of shared SQL as `$1, $2, …`, leaving alone any `?` inside a
 * string literal, a quoted identifier or a comment. Cached per SQL text.
 */
export function numberPlaceholders(sql: string): string {
  const cached = converted.get(sql);
  if (cached !== undefined) return cached;
  let out = '';
  let n = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const skipTo = (end: string, from: number) => {
      const j = sql.indexOf(end, from);
      const stop = j === -1 ? sql.length : j + end.length;
      out += sql.slice(i, stop);
      i = stop;
    };
    if (c === "'" || c === '"') skipTo(c, i + 1);
    else if (c === '-' && sql[i + 1] === '-') skipTo('\n', i + 2);
    else if (c === '/' && sql[i + 1] === '*') skipTo('*/', i + 2);
    else {
      out += c === '?' ? `$${++n}` : c;
      i++;
    }
  }
  if (converted.size < 10_000) converted.set(sql, out);
  return out;
}

// Booleans as 1/0, as the SQLite adapter does: the shared schema stores flags as SMALLINT.
const toPg = (v: unknown) => (typeof v === 'boolean' ? (v ? 1 : 0) : v === undefined ? null : v);

export interface PgSqlOptions {
  /**
   * Runs statements with parameters as named prepared statements (parsed and planned once per
   * connection): what a projector's batches gain from, statement after statement. At most
   * MAX_PREPARED distinct texts are named; the rest run unnamed.
   */
  readonly prepare?: boolean;
}

const MAX_PREPARED = 2000;
const statementNames = new Map<string, string>();

/** The name of a statement text's prepared statement, or undefined past MAX_PREPARED texts. */
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_PREPARED) {
    name = `tworooms_s${statementNames.size}`;
    statementNames.set(text, name);
  }
  return name;
}

/** What `pgSql` needs from a client or a pool (both have `query`). */
type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * `Sql` on a pg client (e.g. the one a transaction holds) or a pool: `?` placeholders are
 * numbered, BIGINT/NUMERIC results are JS numbers, booleans are sent as 1/0.
 * @example
 *   const sql = pgSql(pool);
 *   const row = await sql.get<{ n: number }>('SELECT count(*) AS n FROM products WHERE active = ?', [1]);
 */
export function pgSql(client: Queryable, options: PgSqlOptions = {}): Sql {
  const query = (text: string, params: readonly unknown[] | undefined) => {
    if (params) refuseNul(params);
    const name = options.prepare && params ? statementName(text) : undefined;
    return client.query({
      text: numberPlaceholders(text),
      values: params ? params.map(toPg) : [],
      types: numbersAsNumbers,
      ...(name ? { name } : {}),
    });
  };
  return {
    dialect: 'postgres',
    run: async (text, params) => ({ changes: (await query(text, params)).rowCount ?? 0 }),
    get: async <T>(text: string, params?: readonly unknown[]) =>
      (await query(text, params)).rows[0] as T | undefined,
    all: async <T>(text: string, params?: readonly unknown[]) =>
      (await query(text, params)).rows as T[],
    exec: async (text) => {
      // No parameters: the simple protocol, which accepts several statements.
      await client.query({ text, types: numbersAsNumbers });
    },
  };
}
