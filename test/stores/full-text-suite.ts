// The full-text index's behaviour, run against every store (see sqlite-full-text.test.ts and
// postgres-full-text.test.ts): the same words, ranking, paging and hostile input everywhere.
import { beforeEach, describe, expect, it } from 'vitest';
import type { FullTextDocument, FullTextIndex } from '../../src/core/full-text.js';
import type { Sql } from '../../src/core/sql.js';

/** One store's way to give the suite a fresh, empty database (and a read-only view of it). */
export interface FullTextFixture {
  readonly fts: FullTextIndex;
  /** A fresh database with nothing in it, as `Sql`. */
  fresh(): Promise<Sql>;
  /** A read-only connection to the database `fresh` last gave. */
  readOnly(): Promise<{ sql: Sql; close(): Promise<void> }>;
  /** What a write through the read-only connection fails with. */
  readonly readOnlyError: RegExp;
}

const INDEX = 'things';
const all = { limit: 100, offset: 0 };
const doc = (id: string, title: string, body = '', extra = ''): FullTextDocument => ({
  id,
  title,
  body,
  extra,
});

/** Defines the full-text suite for one store. */
export function fullTextSuite(name: string, fixture: FullTextFixture): void {
  describe(name, () => {
    const fts = fixture.fts;
    let sql: Sql;
    beforeEach(async () => {
      sql = await fixture.fresh();
      await fts.setup(sql, INDEX);
    });
    const ids = async (q: string) => (await fts.search(sql, INDEX, q, all)).ids;

    it('sets up idempotently and refuses index names that are not plain identifiers', async () => {
      await fts.setup(sql, INDEX);
      for (const bad of ['', 'Things', 'a1', 'x; DROP TABLE t', 'a-b', 'sqlite_master ']) {
        await expect(fts.setup(sql, bad)).rejects.toThrow(/Invalid full-text index name/);
        await expect(fts.search(sql, bad, 'x', all)).rejects.toThrow(/Invalid/);
        await expect(fts.upsert(sql, bad, doc('1', 'x'))).rejects.toThrow(/Invalid/);
        await expect(fts.remove(sql, bad, '1')).rejects.toThrow(/Invalid/);
      }
    });

    it('requires every word, matches the last word as a prefix, and searches every field', async () => {
      await fts.upsert(sql, INDEX, doc('a', 'Green tea', 'Loose leaves from Japan', 'Tea'));
      await fts.upsert(sql, INDEX, doc('b', 'Black tea', 'Strong and malty', 'Tea'));
      await fts.upsert(sql, INDEX, doc('c', 'Teapot', 'Cast iron', 'Kitchen'));
      expect(await ids('green tea')).toEqual(['a']);
      expect(await ids('tea green')).toEqual(['a']);
      expect(await ids('gre')).toEqual(['a']); // prefix on the last word
      expect(await ids('gre tea')).toEqual([]); // ...only on the last word
      expect((await ids('tea')).sort()).toEqual(['a', 'b', 'c']); // "teapot" by prefix
      expect(await ids('malty')).toEqual(['b']); // body
      expect(await ids('kitchen')).toEqual(['c']); // extra
      expect(await ids('japan black')).toEqual([]);
      expect(await ids('GREEN TEA')).toEqual(['a']); // case-insensitive
    });

    it('ranks title over body over extra (weights 10/3/1), ties by id, and pages with a total', async () => {
      await fts.upsert(sql, INDEX, doc('x-extra', 'Something', 'else', 'lemon'));
      await fts.upsert(sql, INDEX, doc('x-body', 'Something', 'lemon', 'else'));
      await fts.upsert(sql, INDEX, doc('x-title', 'Lemon', 'something', 'else'));
      await fts.upsert(sql, INDEX, doc('y-2', 'Plain', 'words', 'here'));
      await fts.upsert(sql, INDEX, doc('y-1', 'Plain', 'words', 'here'));
      expect(await ids('lemon')).toEqual(['x-title', 'x-body', 'x-extra']);
      expect(await ids('plain')).toEqual(['y-1', 'y-2']); // equal scores: by id
      expect(await fts.search(sql, INDEX, 'lemon', { limit: 2, offset: 0 })).toEqual({
        ids: ['x-title', 'x-body'],
        total: 3,
      });
      expect(await fts.search(sql, INDEX, 'lemon', { limit: 2, offset: 2 })).toEqual({
        ids: ['x-extra'],
        total: 3,
      });
      expect(await fts.search(sql, INDEX, 'lemon', { limit: 2, offset: 10 })).toEqual({
        ids: [],
        total: 3,
      });
    });

    it('ranks the shorter of two equal matches first', async () => {
      await fts.upsert(
        sql,
        INDEX,
        doc('a-long', 'Kettle', 'see the leaves unfurl slowly', 'kitchen'),
      );
      await fts.upsert(sql, INDEX, doc('b-short', 'Whisk', 'bamboo', 'kitchen'));
      expect(await ids('kitchen')).toEqual(['b-short', 'a-long']);
    });

    it('upsert replaces a document and remove forgets it (unknown ids are no-ops)', async () => {
      await fts.upsert(sql, INDEX, doc('p1', 'Oolong', 'roasted'));
      await fts.upsert(sql, INDEX, doc('p1', 'Sencha', 'steamed'));
      expect(await ids('oolong')).toEqual([]);
      expect(await ids('sencha steamed')).toEqual(['p1']);
      expect((await fts.search(sql, INDEX, 'sencha', all)).total).toBe(1);
      await fts.remove(sql, INDEX, 'p1');
      await fts.remove(sql, INDEX, 'p1');
      await fts.remove(sql, INDEX, 'never-there');
      expect(await fts.search(sql, INDEX, 'sencha', all)).toEqual({ ids: [], total: 0 });
      await fts.upsert(sql, INDEX, doc('p1', 'Sencha again'));
      expect(await ids('again')).toEqual(['p1']);
    });

    it('keeps indexes apart', async () => {
      await fts.setup(sql, 'other_index');
      await fts.upsert(sql, INDEX, doc('1', 'shared word'));
      await fts.upsert(sql, 'other_index', doc('2', 'shared word'));
      expect(await ids('shared')).toEqual(['1']);
      expect((await fts.search(sql, 'other_index', 'shared', all)).ids).toEqual(['2']);
    });

    it('answers nothing, without error, to a query with no word', async () => {
      await fts.upsert(sql, INDEX, doc('1', 'anything'));
      for (const q of ['', '   ', '"', '*', '-', "'", '()', '"*"', ':', '^', '🙂', '+ - * /']) {
        expect(await fts.search(sql, INDEX, q, all)).toEqual({ ids: [], total: 0 });
      }
    });

    it('never lets user input act as query syntax', async () => {
      await fts.upsert(sql, INDEX, doc('near', 'Near the sea', 'and or not'));
      await fts.upsert(sql, INDEX, doc('title', 'title colon', 'body'));
      await fts.upsert(sql, INDEX, doc('quote', "It's a don't", 'x'));
      const hostile = [
        'NEAR(',
        'NEAR(sea the, 2)',
        'sea"',
        '"sea',
        'sea*',
        '*sea',
        'sea -the',
        '-sea',
        'sea AND the',
        'sea OR nothing',
        'NOT sea',
        'title:sea',
        '{title body}: sea',
        '^near',
        'sea + the',
        "'; DROP TABLE things; --",
        'sea) OR (1',
        '\u0000sea',
      ];
      for (const q of hostile) await expect(fts.search(sql, INDEX, q, all)).resolves.toBeDefined();
      expect(await ids('NEAR(')).toEqual(['near']); // the word "near", as a prefix
      expect(await ids('sea"')).toEqual(['near']);
      expect(await ids('*sea')).toEqual(['near']);
      expect(await ids('sea -the')).toEqual(['near']); // "-" is no NOT: both words required
      expect(await ids('sea OR nothing')).toEqual([]); // "OR" is a word like any other
      expect(await ids('and or not')).toEqual(['near']); // operators as plain words
      expect(await ids('title:sea')).toEqual([]); // no column filter: "title" AND "sea"
      expect(await ids('title:colon')).toEqual(['title']);
      expect(await ids("don't")).toEqual(['quote']);
      expect(await ids("'; DROP TABLE things; --")).toEqual([]);
      expect(await ids('near')).toEqual(['near']); // the table is still there
    });

    it('tokenises unicode: letters of any script, case and diacritics folded', async () => {
      await fts.upsert(sql, INDEX, doc('fr', 'Café crème', 'très bon'));
      await fts.upsert(sql, INDEX, doc('de', 'Über Straße', ''));
      await fts.upsert(sql, INDEX, doc('ru', 'Москва', 'чай'));
      await fts.upsert(sql, INDEX, doc('jp', '東京タワー', '抹茶'));
      await fts.upsert(sql, INDEX, doc('gr', 'Ελληνικός καφές', ''));
      expect(await ids('cafe')).toEqual(['fr']);
      expect(await ids('CAFÉ CRÈME')).toEqual(['fr']);
      expect(await ids('tres')).toEqual(['fr']);
      expect(await ids('über')).toEqual(['de']);
      expect(await ids('uber strasse')).toEqual([]); // ß is its own letter
      expect(await ids('МОСКВА')).toEqual(['ru']);
      expect(await ids('моск')).toEqual(['ru']);
      expect(await ids('東京')).toEqual(['jp']); // prefix of the run "東京タワー"
      expect(await ids('抹茶')).toEqual(['jp']);
      expect(await ids('ΕΛΛΗΝΙΚΌΣ')).toEqual(['gr']);
      expect(await ids('café, crème!')).toEqual(['fr']); // punctuation separates words
    });

    it('searches through a read-only connection, which refuses writes', async () => {
      await fts.upsert(sql, INDEX, doc('1', 'readable'));
      const reader = await fixture.readOnly();
      try {
        expect((await fts.search(reader.sql, INDEX, 'read', all)).ids).toEqual(['1']);
        await expect(fts.upsert(reader.sql, INDEX, doc('2', 'nope'))).rejects.toThrow(
          fixture.readOnlyError,
        );
      } finally {
        await reader.close();
      }
    });
  });
}
