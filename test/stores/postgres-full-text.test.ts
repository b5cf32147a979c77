import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tsqueryLiteral, tsvectorLiteral } from '../../src/stores/postgres/full-text.js';
import { openPool, pgSql, postgresFullText } from '../../src/stores/postgres/index.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';
import { fullTextSuite } from './full-text-suite.js';

const reachable = await postgresReachable();
let db: TestDatabase;
let pool: pg.Pool;
if (reachable) {
  beforeAll(async () => {
    db = await createTestDatabase('tworooms_fts');
    pool = openPool({ connectionString: db.url, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  fullTextSuite('postgresFullText', {
    fts: postgresFullText,
    async fresh() {
      await pool.query('DROP TABLE IF EXISTS things, other_index');
      return pgSql(pool);
    },
    async readOnly() {
      const reader = openPool({ connectionString: db.url, max: 1, readOnly: true });
      return { sql: pgSql(reader), close: () => reader.end() };
    },
    readOnlyError: /read-only transaction/,
  });
}

describe('postgres full-text literals', () => {
  it('builds the tsquery from words only: all required, the last as a prefix', () => {
    expect(tsqueryLiteral('Green TEA')).toBe("'green' & 'tea':*");
    expect(tsqueryLiteral("  NEAR( 'x' -y* !z | <->")).toBe("'near' & 'x' & 'y' & 'z':*");
    expect(tsqueryLiteral('"*-\'&|!:')).toBeUndefined();
    expect(tsqueryLiteral('Crème')).toBe("'creme':*");
  });

  it('builds the tsvector with weights A/B/C for title/body/extra', () => {
    expect(tsvectorLiteral({ id: 'x', title: 'Tea tea', body: 'tea pot', extra: 'Pot' })).toBe(
      "'tea':1A,2A,3B 'pot':4B,5C",
    );
    expect(tsvectorLiteral({ id: 'x', title: '', body: '', extra: '' })).toBe('');
  });
});
