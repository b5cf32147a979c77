// Page marks: how a catalog listing answers page N without stepping over (N - 1) × 24 entries.
//
// A listing (all active products, or one category's) is ordered by (name, id). Some of its
// entries are marks: those whose id hashes to a multiple of `every` (content-defined, so the
// marks of a set of products do not depend on the order they arrived in, and a rebuilt copy
// equals the live one row by row; each product row keeps the answer, `page_mark`). Each mark keeps the number of entries from it up to the next
// mark; a head mark ('', '') counts those before the first. A page then sums the counts to find
// the last mark at or before its offset (a few hundred rows of one small table) and steps over
// at most a mark's stretch of the listing's index, instead of everything before the page.

import type { Sql } from '../../core/sql.js';

export const PAGE_MARKS_SETUP = `
  -- listing: '' for all active products, else a category id. One row per mark of the listing
  -- (plus its head, name = id = ''), n = its entries from this mark up to the next one.
  CREATE TABLE IF NOT EXISTS rm_catalog_page_marks (
    listing TEXT NOT NULL,
    name    TEXT NOT NULL,
    id      TEXT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (listing, name, id)
  )/*MARKS_LAYOUT*/;`;

/** On average one listing entry in this many is a mark (the default of the catalog projection). */
export const PAGE_MARK_EVERY = 512;

/**
 * Pages starting before this offset step over the listing from its start (at most this many
 * index entries, about one mark's stretch): cheaper than summing the marks' counts.
 */
export const MARKS_FROM_OFFSET = PAGE_MARK_EVERY;

/** The listing of all active products (a category's listing is named by the category id). */
export const ALL_PRODUCTS = '';

/** A 32-bit hash of an id (FNV-1a over its UTF-16 code units, then a final mix). */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Whether the product `id` is a mark in the listings it is in. */
export const isMark = (id: string, every: number): boolean => hashId(id) % every === 0;

/** The listing's entries, as a WHERE clause on rm_catalog_products and its parameters. */
function entries(listing: string): [string, unknown[]] {
  return listing === ALL_PRODUCTS
    ? ['active = 1', []]
    : ['category_id = ? AND active = 1', [listing]];
}

interface MarkRow {
  name: string;
  id: string;
  n: number | string;
}

/**
 * Adds `delta` to the count of the last mark at or before (name, id), in one statement; answers
 * that mark as it is now, or nothing when the listing has no mark (it is empty).
 */
async function addToMarkBefore(
  sql: Sql,
  listing: string,
  name: string,
  id: string,
  delta: number,
): Promise<MarkRow | undefined> {
  const [mark] = await sql.all<MarkRow>(
    `UPDATE rm_catalog_page_marks SET n = n + ?
      WHERE listing = ? AND (name, id) = (
        SELECT name, id FROM rm_catalog_page_marks WHERE listing = ? AND (name, id) <= (?, ?)
         ORDER BY name DESC, id DESC LIMIT 1)
      RETURNING name, id, n`,
    [delta, listing, listing, name, id],
  );
  return mark;
}

/** Gives an empty listing its head, counting `n` entries. */
const addHead = (sql: Sql, listing: string, n: number) =>
  sql.run("INSERT INTO rm_catalog_page_marks (listing, name, id, n) VALUES (?, '', '', ?)", [
    listing,
    n,
  ]);

/**
 * The product (name, id) has just entered the listing (its row already says so): counts it in
 * its mark's stretch (one statement), or, if it is a mark itself, splits the stretch it falls in.
 */
export async function enterListing(
  sql: Sql,
  listing: string,
  name: string,
  id: string,
  every: number,
): Promise<void> {
  if (!isMark(id, every)) {
    if (!(await addToMarkBefore(sql, listing, name, id, 1))) await addHead(sql, listing, 1);
    return;
  }
  // Its stretch: from it up to the next mark (counted through the listing's index), taken from
  // the stretch it falls in.
  const next = await sql.get<{ name: string; id: string }>(
    `SELECT name, id FROM rm_catalog_page_marks WHERE listing = ? AND (name, id) > (?, ?)
      ORDER BY name, id LIMIT 1`,
    [listing, name, id],
  );
  const [where, params] = entries(listing);
  const counted = await sql.get<{ n: number | string }>(
    `SELECT COUNT(*) AS n FROM rm_catalog_products
      WHERE ${where} AND (name, id) >= (?, ?)${next ? ' AND (name, id) < (?, ?)' : ''}`,
    [...params, name, id, ...(next ? [next.name, next.id] : [])],
  );
  const n = Number(counted?.n ?? 0);
  if (!(await addToMarkBefore(sql, listing, name, id, 1 - n))) await addHead(sql, listing, 1 - n);
  await sql.run('INSERT INTO rm_catalog_page_marks (listing, name, id, n) VALUES (?, ?, ?, ?)', [
    listing,
    name,
    id,
    n,
  ]);
}

/**
 * The product (name, id) has left the listing: uncounted from its mark's stretch (one
 * statement), or, if it was a mark, its stretch joins the one before. An emptied listing loses
 * its head.
 */
export async function leaveListing(
  sql: Sql,
  listing: string,
  name: string,
  id: string,
  every: number,
): Promise<void> {
  const [own] = isMark(id, every)
    ? await sql.all<MarkRow>(
        `DELETE FROM rm_catalog_page_marks WHERE listing = ? AND name = ? AND id = ?
          RETURNING name, id, n`,
        [listing, name, id],
      )
    : [];
  const left = await addToMarkBefore(sql, listing, name, id, own ? Number(own.n) - 1 : -1);
  // Only the head can be left counting nothing with no mark after it.
  if (left?.name === '' && left.id === '' && Number(left.n) === 0) {
    await sql.run(
      `DELETE FROM rm_catalog_page_marks
        WHERE listing = ? AND name = '' AND id = ''
          AND NOT EXISTS (SELECT 1 FROM rm_catalog_page_marks
                           WHERE listing = ? AND (name <> '' OR id <> ''))`,
      [listing, listing],
    );
  }
}

/**
 * One listing's marks (those of every category at once when `byCategory`), in one statement:
 * its entries in (name, id) order, numbered into stretches by a running count of the marks
 * among them (0 before the first), one row per stretch: its mark (the head for stretch 0) and
 * its number of entries. Each pass reads a listing's index in order; no key leaves the database.
 */
const deriveListings = (byCategory: boolean) => `
  INSERT INTO rm_catalog_page_marks (listing, name, id, n)
  SELECT listing, COALESCE(MAX(CASE WHEN page_mark = 1 THEN name END), ''),
         COALESCE(MAX(CASE WHEN page_mark = 1 THEN id END), ''), COUNT(*)
    FROM (SELECT ${byCategory ? 'category_id' : `'${ALL_PRODUCTS}'`} AS listing, name, id, page_mark,
                 SUM(page_mark) OVER (${byCategory ? 'PARTITION BY category_id ' : ''}ORDER BY name, id
                   ROWS UNBOUNDED PRECEDING) AS stretch
            FROM rm_catalog_products WHERE active = 1) AS entries
   GROUP BY listing, stretch`;

/**
 * Derives every listing's marks from the products as they are (a rebuilt copy's `finishBuild`),
 * from the mark flag each product row keeps (`page_mark`, set when it was added): one pass over
 * all active products, one over each category's, all in the database. A listing whose first
 * entry is a mark has no stretch 0: its head is added counting nothing.
 */
export async function derivePageMarks(sql: Sql): Promise<void> {
  await sql.run('DELETE FROM rm_catalog_page_marks');
  await sql.run(deriveListings(false));
  await sql.run(deriveListings(true));
  await sql.run(
    `INSERT INTO rm_catalog_page_marks (listing, name, id, n)
     SELECT DISTINCT listing, '', '', 0 FROM rm_catalog_page_marks WHERE true -- (SQLite's parser)
     ON CONFLICT (listing, name, id) DO NOTHING`,
  );
}

/** Where a page lies in a listing: from a mark (stepping over `skip` entries), before another. */
export interface PageRange {
  readonly name: string;
  readonly id: string;
  readonly skip: number;
  /** The first mark past the page (absent: the page may run to the listing's end). */
  readonly end?: { readonly name: string; readonly id: string };
}

/**
 * Where the page of `limit` entries at `offset` lies in a listing: the last mark at or before
 * it, how many entries to step over from there, and the first mark after its last entry (so
 * the page's query reads one or two stretches of the index, whatever plan the database picks);
 * nothing when the listing has no marks (step over `offset` from the start).
 */
export async function pageRange(
  sql: Sql,
  listing: string,
  offset: number,
  limit: number,
): Promise<PageRange | undefined> {
  const row = await sql.get<{
    name: string;
    id: string;
    pos: number | string;
    end_name: string | null;
    end_id: string | null;
  }>(
    `WITH m AS (
       SELECT name, id, COALESCE(SUM(n) OVER (ORDER BY name, id
         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS pos
       FROM rm_catalog_page_marks WHERE listing = ?)
     SELECT s.name, s.id, s.pos, e.name AS end_name, e.id AS end_id
       FROM (SELECT name, id, pos FROM m WHERE pos <= ?
              ORDER BY pos DESC, name DESC, id DESC LIMIT 1) AS s
       LEFT JOIN (SELECT name, id FROM m WHERE pos >= ? ORDER BY pos, name, id LIMIT 1) AS e
         ON 1 = 1`,
    [listing, offset, offset + limit],
  );
  if (!row) return undefined;
  return {
    name: row.name,
    id: row.id,
    skip: offset - Number(row.pos),
    ...(row.end_name !== null && row.end_id !== null
      ? { end: { name: row.end_name, id: row.end_id } }
      : {}),
  };
}

/**
 * The WHERE clause (on rm_catalog_products, with its parameters) of the listing's entries that
 * page `offset` reads, and how many of them it steps over: from the range's start mark (from the
 * listing's first entry without a range), and before its end mark when `bounded`.
 */
export function pageWhere(
  listing: string,
  offset: number,
  range: PageRange | undefined,
  bounded: boolean,
): { where: string; params: unknown[]; skip: number } {
  const [where, params] = entries(listing);
  if (!range) return { where, params, skip: offset };
  const end = bounded ? range.end : undefined;
  return {
    where: `${where} AND (name, id) >= (?, ?)${end ? ' AND (name, id) < (?, ?)' : ''}`,
    params: [...params, range.name, range.id, ...(end ? [end.name, end.id] : [])],
    skip: range.skip,
  };
}
