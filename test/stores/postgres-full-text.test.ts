import fc from 'fast-check';
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

  describe('postgresFullText with a document near the 1 MB request limit', () => {
    it('indexes it (words past the tsvector budget are left out) instead of failing', async () => {
      const sql = pgSql(pool);
      await pool.query('DROP TABLE IF EXISTS big');
      await postgresFullText.setup(sql, 'big');
      // ~150,000 distinct words, ~1 MB of text.
      const words = Array.from({ length: 150_000 }, (_, i) => `w${i.toString(36)}x`);
      const body = words.join(' ');
      expect(body.length).toBeGreaterThan(900_000);
      await postgresFullText.upsert(sql, 'big', { id: 'b', title: 'Huge', body, extra: '' });
      expect(
        (await postgresFullText.search(sql, 'big', 'huge w0x', { limit: 1, offset: 0 })).ids,
      ).toEqual(['b']);
    });
  });

  describe('postgresFullText under any input', () => {
    it('never fails on what a user types, and finds a document by its own words', async () => {
      const sql = pgSql(pool);
      await pool.query('DROP TABLE IF EXISTS fuzz');
      await postgresFullText.setup(sql, 'fuzz');
      await fc.assert(
        fc.asyncProperty(
          fc.string({ unit: 'binary', maxLength: 40 }),
          fc.string({ unit: 'grapheme', maxLength: 40 }),
          async (title, query) => {
            await postgresFullText.upsert(sql, 'fuzz', { id: 'd', title, body: query, extra: '' });
            const page = { limit: 5, offset: 0 };
            const found = await postgresFullText.search(sql, 'fuzz', query, page);
            expect(found.total).toBeLessThanOrEqual(1);
            // Every word of the body is in the document: a query made of them finds it.
            if (tsqueryLiteral(query) !== undefined) expect(found.ids).toEqual(['d']);
            await postgresFullText.search(sql, 'fuzz', title, page);
          },
        ),
        { numRuns: 150 },
      );
    });
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
