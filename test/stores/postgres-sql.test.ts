import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { numberPlaceholders, openPool, pgSql } from '../../src/stores/postgres/index.js';
import { renamedClient } from '../../src/stores/postgres/renamed-client.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';

describe('numberPlaceholders', () => {
  it('numbers ? outside literals, quoted identifiers and comments', () => {
    expect(numberPlaceholders('SELECT ? , ?')).toBe('SELECT $1 , $2');
    expect(numberPlaceholders(`SELECT '?', "a?b", ? -- what?\n, ? /* ? */, 'it''s ?', ?`)).toBe(
      `SELECT '?', "a?b", $1 -- what?\n, $2 /* ? */, 'it''s ?', $3`,
    );
    expect(numberPlaceholders("SELECT 'open")).toBe("SELECT 'open");
  });
});

const reachable = await postgresReachable();

describe.skipIf(!reachable)('pgSql', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase('tworooms_sql');
    pool = openPool({ connectionString: db.url, max: 2 });
    await pgSql(pool).exec(
      'CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT, flag SMALLINT); CREATE TABLE u (x INT)',
    );
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('runs, counts changes, and reads BIGINT, COUNT, SUM and AVG as numbers', async () => {
    const sql = pgSql(pool);
    expect(sql.dialect).toBe('postgres');
    const ins = await sql.run('INSERT INTO t (id, n, flag) VALUES (?, ?, ?), (?, ?, ?)', [
      'a',
      2 ** 40,
      true,
      'b',
      3,
      false,
    ]);
    expect(ins.changes).toBe(2);
    expect(await sql.get('SELECT n, flag FROM t WHERE id = ?', ['a'])).toEqual({
      n: 2 ** 40,
      flag: 1,
    });
    expect(
      await sql.get('SELECT count(*) AS c, sum(n) AS s, avg(n) AS a FROM t WHERE flag = ?', [0]),
    ).toEqual({ c: 1, s: 3, a: 3 });
    expect(await sql.all('SELECT id FROM t ORDER BY id')).toEqual([{ id: 'a' }, { id: 'b' }]);
    expect(await sql.get('SELECT id FROM t WHERE id = ?', ['none'])).toBeUndefined();
    expect((await sql.run('UPDATE t SET n = n + 1 WHERE id = ?', ['none'])).changes).toBe(0);
    expect((await sql.run('INSERT INTO u (x) VALUES (?)', [undefined])).changes).toBe(1);
  });

  it('leaves the global pg type parsers alone', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT 5::bigint AS n');
      expect(rows[0].n).toBe('5');
    } finally {
      await client.end();
    }
  });

  it('works on a client inside a transaction', async () => {
    const client = await pool.connect();
    try {
      const sql = pgSql(client);
      await sql.exec('BEGIN');
      await sql.run('INSERT INTO t (id, n, flag) VALUES (?, ?, ?)', ['tx', 1, 0]);
      await sql.exec('ROLLBACK');
      expect(await sql.get('SELECT id FROM t WHERE id = ?', ['tx'])).toBeUndefined();
    } finally {
      client.release();
    }
  });

  it("prepares statements once per connection, a renamed copy's apart from the live ones", async () => {
    const client = await pool.connect();
    try {
      await client.query('CREATE TABLE IF NOT EXISTS p (id TEXT PRIMARY KEY, n BIGINT)');
      await client.query('CREATE TABLE IF NOT EXISTS p__g1 (id TEXT PRIMARY KEY, n BIGINT)');
      const names = { tables: ['p'], tableSuffix: '__g1', indexSuffix: '__g1' };
      const live = pgSql(client, { prepare: true });
      const copy = pgSql(renamedClient(client, names), { prepare: true });
      const insert = 'INSERT INTO p (id, n) VALUES (?, ?)';
      for (let i = 0; i < 3; i++) {
        await live.run(insert, [`live-${i}`, i]);
        await copy.run(insert, [`copy-${i}`, i]);
      }
      const prepared = await client.query<{ name: string; statement: string }>(
        "SELECT name, statement FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO p%'",
      );
      expect(prepared.rows).toHaveLength(2); // one per text, however many runs
      expect(new Set(prepared.rows.map((r) => r.name)).size).toBe(2);
      expect(await live.get('SELECT count(*) AS n FROM p')).toEqual({ n: 3 });
      expect(await live.get('SELECT count(*) AS n FROM p__g1')).toEqual({ n: 3 });
      // After a switch (p__g1 renamed to p) the live statement finds the new table.
      await client.query('DROP TABLE p; ALTER TABLE p__g1 RENAME TO p');
      await live.run(insert, ['after', 9]);
      expect(await live.get('SELECT count(*) AS n FROM p')).toEqual({ n: 4 });
    } finally {
      client.release();
    }
  });
});
