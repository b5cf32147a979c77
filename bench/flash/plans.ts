// Level 1's SQL as it runs, with SQLite's plan for each statement: runs the write-DB query
// handlers (catalog page, product detail, search) on a seeded write DB through a Sql handle that
// records every statement, then prints each with its EXPLAIN QUERY PLAN and its time.
//   npx tsx bench/flash/plans.ts <data dir of a seeded store>
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Sql } from '../../src/core/sql.js';
import { catalogWriteDbQueries } from '../../src/shop/catalog/queries.js';
import { searchWriteDbQuery } from '../../src/shop/search/queries.js';
import { sqliteFullText, sqliteSql } from '../../src/stores/sqlite/index.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: npx tsx bench/flash/plans.ts <data dir of a seeded store>');
  process.exit(2);
}
const db = new Database(join(dir, 'write.db'), { readonly: true });
const inner = sqliteSql(db);
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
const handle = { sql: recording, fullText: sqliteFullText };
const category = db.prepare('SELECT category_id FROM products LIMIT 1').pluck().get() as string;
const product = db.prepare('SELECT id FROM products LIMIT 1 OFFSET 500').pluck().get() as string;
const word = (db.prepare('SELECT name FROM products LIMIT 1').pluck().get() as string).split(
  ' ',
)[0]!;

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

const products = db.prepare('SELECT COUNT(*) FROM products').pluck().get() as number;
console.log(`level-1 query plans on ${products.toLocaleString('en-US')} products\n`);
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
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as {
      id: number;
      parent: number;
      detail: string;
    }[];
    const depth = new Map<number, number>([[0, 0]]);
    const lines = plan.map((r) => {
      const d = (depth.get(r.parent) ?? 0) + 1;
      depth.set(r.id, d);
      return `${'  '.repeat(d - 1)}${r.detail}`;
    });
    console.log(`plan:\n${lines.map((l) => `    ${l}`).join('\n')}\n`);
  }
}
db.close();
