// Level 1's SQL as it runs, with the database's plan for each statement: runs the write-DB query
// handlers (catalog page, product detail, search) on a seeded write DB through a Sql handle that
// records every statement, then prints each with its plan (SQLite's EXPLAIN QUERY PLAN, or
// PostgreSQL's EXPLAIN ANALYZE without timings) and its time.
//   npx tsx bench/flash/plans.ts <data dir of a seeded store | postgres://… write DB>
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { isPostgresUrl } from '../../src/config.js';
import type { Sql } from '../../src/core/sql.js';
import { catalogWriteDbQueries } from '../../src/shop/catalog/queries.js';
import { searchWriteDbQuery } from '../../src/shop/search/queries.js';
import { pgSql, postgresFullText } from '../../src/stores/postgres/index.js';
import { sqliteFullText, sqliteSql } from '../../src/stores/sqlite/index.js';

const target = process.argv[2];
if (!target) {
  console.error(
    'usage: npx tsx bench/flash/plans.ts <data dir of a seeded store | postgres://… write DB>',
  );
  process.exit(2);
}
const onPostgres = isPostgresUrl(target);
const pool = onPostgres ? new pg.Pool({ connectionString: target, max: 1 }) : undefined;
const db = onPostgres ? undefined : new Database(join(target, 'write.db'), { readonly: true });
const inner = pool ? pgSql(pool) : sqliteSql(db!);
let seen: { sql: string; params: readonly unknown[] }[] = [];
const note = (sql: string, params: readonly unknown[]) => {
  seen.push({ sql, params });
};
const recording: Sql = {
  dialect: inner.dialect,
  run: (s, p = []) => {
    note(s, p);
    return inner.run(s, p);
  },
  get: (s, p = []) => {
    note(s, p);
    return inner.get(s, p);
  },
  all: (s, p = []) => {
    note(s, p);
    return inner.all(s, p);
  },
  exec: (s) => inner.exec(s),
};
const handle = { sql: recording, fullText: onPostgres ? postgresFullText : sqliteFullText };
const one = async (sql: string) =>
  Object.values((await inner.get<Record<string, unknown>>(sql))!)[0] as string;
const category = await one('SELECT category_id FROM products ORDER BY id LIMIT 1');
const product = await one('SELECT id FROM products ORDER BY id LIMIT 1 OFFSET 500');
const word = (await one('SELECT name FROM products ORDER BY id LIMIT 1')).split(' ')[0]!;

/** The plan of one statement, one line per node, indented by depth. */
async function planOf(sql: string, params: readonly unknown[]): Promise<string[]> {
  if (onPostgres) {
    const rows = await inner.all<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${sql}`,
      params,
    );
    return rows.map((r) => r['QUERY PLAN']);
  }
  const plan = db!.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as {
    id: number;
    parent: number;
    detail: string;
  }[];
  const depth = new Map<number, number>([[0, 0]]);
  return plan.map((r) => {
    const d = (depth.get(r.parent) ?? 0) + 1;
    depth.set(r.id, d);
    return `${'  '.repeat(d - 1)}${r.detail}`;
  });
}

const cases: [string, () => Promise<unknown>][] = [
  [
    `CatalogPage (category, page 3)`,
    () =>
      catalogWriteDbQueries.CatalogPage.handle(
        { type: 'CatalogPage', data: { categoryId: category, page: 3 } },
        handle,
      ) as Promise<unknown>,
  ],
  [
    'ProductDetail',
    () =>
      catalogWriteDbQueries.ProductDetail.handle(
        { type: 'ProductDetail', data: { productId: product } },
        handle,
      ) as Promise<unknown>,
  ],
  [
    `SearchProducts ("${word}")`,
    () =>
      searchWriteDbQuery.handle(
        { type: 'SearchProducts', data: { q: word, page: 1 } },
        handle,
      ) as Promise<unknown>,
  ],
];

const products = Number(await one('SELECT COUNT(*) AS n FROM products'));
console.log(
  `level-1 query plans on ${products.toLocaleString('en-US')} products (${onPostgres ? 'PostgreSQL' : 'SQLite'})\n`,
);
for (const [name, run] of cases) {
  seen = [];
  await run();
  const rounds = 20;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) await run();
  const ms = (performance.now() - start) / rounds;
  console.log(
    `#### ${name}: ${ms.toFixed(2)} ms per call, ${seen.length / (rounds + 1)} statements\n`,
  );
  for (const { sql, params } of seen.slice(0, seen.length / (rounds + 1))) {
    console.log('```sql');
    console.log(sql.replace(/^\s+/gm, '  ').trim());
    console.log('```');
    const lines = await planOf(sql, params);
    console.log(`plan:\n${lines.map((l) => `    ${l}`).join('\n')}\n`);
  }
}
db?.close();
await pool?.end();
