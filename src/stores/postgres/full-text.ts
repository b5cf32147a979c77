import type { FullTextDocument, FullTextIndex } from '../../core/full-text.js';

const INDEX_NAME = /^[a-z_]+$/;

/** The index name becomes a table name, so only a plain identifier is accepted. */
function table(index: string): string {
  if (!INDEX_NAME.test(index)) throw new Error(`Invalid full-text index name: ${index}`);
  return index;
}

/** Words are runs of letters, digits and combining marks (as SQLite FTS5's unicode61 sees them). */
const WORD = /[\p{L}\p{N}\p{M}]+/gu;
/** Accents (combining diacritical marks) are folded away, as unicode61's `remove_diacritics`. */
const ACCENT = /[\u0300-\u036f]/g;
/** tsvector limits: a lexeme under 2 KB, positions up to 16383. */
const MAX_LEXEME_BYTES = 2046;
const MAX_POSITION = 16_383;
/** Positions kept per lexeme: enough for ranking, and the vector stays small. */
const MAX_POSITIONS = 64;
/**
 * A tsvector holds at most 1 MB; a description near the 1 MB request limit could need more.
 * Words past this budget (estimated as PostgreSQL stores them) are left out of the index.
 */
const MAX_VECTOR_BYTES = 900_000;

/** The lexemes of a text: lower-cased, accents folded, over-long words dropped. */
export function lexemes(text: string): string[] {
  const words = text.match(WORD) ?? [];
  return words
    .map((w) => w.normalize('NFD').replace(ACCENT, '').normalize('NFC').toLowerCase())
    .filter((w) => w.length > 0 && Buffer.byteLength(w) <= MAX_LEXEME_BYTES);
}

/**
 * The tsvector literal of a document, built here rather than by PostgreSQL's parser so both
 * stores split words alike: title words weigh A, body B, extra C. Lexemes hold letters,
 * digits and marks only, so quoting them needs no escaping.
 */
export function tsvectorLiteral(doc: FullTextDocument): string {
  const positions = new Map<string, string[]>();
  let at = 0;
  let bytes = 0;
  for (const [field, weight] of [
    [doc.title, 'A'],
    [doc.body, 'B'],
    [doc.extra, 'C'],
  ] as const) {
    for (const lexeme of lexemes(field)) {
      at = Math.min(at + 1, MAX_POSITION);
      let list = positions.get(lexeme);
      if (!list) {
        // Entry (4), the lexeme, alignment and position count (4), then 2 per position.
        const cost = 8 + Buffer.byteLength(lexeme);
        if (bytes + cost > MAX_VECTOR_BYTES) continue;
        bytes += cost;
        list = [];
        positions.set(lexeme, list);
      }
      if (list.length < MAX_POSITIONS) {
        list.push(`${at}${weight}`);
        bytes += 2;
      }
    }
  }
  return [...positions].map(([lexeme, list]) => `'${lexeme}':${list.join(',')}`).join(' ');
}

/**
 * The tsquery literal for a user's search: every word required, the last one as a prefix;
 * nothing the user types is tsquery syntax. Undefined when there is no word.
 */
export function tsqueryLiteral(query: string): string | undefined {
  const words = lexemes(query);
  if (words.length === 0) return undefined;
  return words.map((w, i) => `'${w}'${i === words.length - 1 ? ':*' : ''}`).join(' & ');
}

/** ts_rank weights {D, C, B, A}: title 1, body 0.3, extra 0.1 (the FTS5 index's 10/3/1). */
const WEIGHTS = '{0.1, 0.1, 0.3, 1.0}';
/**
 * Normalisation 1 divides by 1 + log(document length): among equal matches the shorter
 * document ranks first, as with FTS5's bm25.
 */
const SHORTER_FIRST = 1;

/**
 * `FullTextIndex` on PostgreSQL: one table per index (`id`, a weighted `tsvector`) with a GIN
 * index; matches ranked by `ts_rank` (title over body over extra, shorter documents first),
 * ties by id (byte order).
 * @example
 *   await postgresFullText.setup(sql, 'products_fts');
 *   await postgresFullText.upsert(sql, 'products_fts', { id: 'p1', title: 'Green tea', body: '…', extra: 'Tea' });
 *   const { ids, total } = await postgresFullText.search(sql, 'products_fts', 'gre', { limit: 24, offset: 0 });
 */
export const postgresFullText: FullTextIndex = {
  async setup(sql, index) {
    const t = table(index);
    await sql.exec(
      `CREATE TABLE IF NOT EXISTS ${t} (id TEXT PRIMARY KEY, doc TSVECTOR NOT NULL);
       CREATE INDEX IF NOT EXISTS ${t}_doc ON ${t} USING GIN (doc);`,
    );
  },

  async upsert(sql, index, doc) {
    const t = table(index);
    await sql.run(
      `INSERT INTO ${t} (id, doc) VALUES (?, CAST(? AS TSVECTOR))
       ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`,
      [doc.id, tsvectorLiteral(doc)],
    );
  },

  async remove(sql, index, id) {
    await sql.run(`DELETE FROM ${table(index)} WHERE id = ?`, [id]);
  },

  async search(sql, index, query, page) {
    const t = table(index);
    const match = tsqueryLiteral(query);
    if (match === undefined) return { ids: [], total: 0 };
    const count = await sql.get<{ n: number }>(
      `SELECT count(*) AS n FROM ${t} WHERE doc @@ CAST(? AS TSQUERY)`,
      [match],
    );
    const total = Number(count?.n ?? 0);
    if (total === 0 || page.limit <= 0) return { ids: [], total };
    const rows = await sql.all<{ id: string }>(
      `SELECT id FROM ${t}, CAST(? AS TSQUERY) AS q WHERE doc @@ q
       ORDER BY ts_rank('${WEIGHTS}', doc, q, ${SHORTER_FIRST}) DESC, id COLLATE "C" LIMIT ? OFFSET ?`,
      [match, page.limit, Math.max(0, page.offset)],
    );
    return { ids: rows.map((r) => r.id), total };
  },
};
