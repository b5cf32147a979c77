import type { Sql } from './sql.js';

/** A document for full-text search: an id and the weighted fields to search. */
export interface FullTextDocument {
  readonly id: string;
  /** Most weight. */
  readonly title: string;
  readonly body: string;
  /** Least weight (e.g. the category name). */
  readonly extra: string;
}

/**
 * Full-text search over one named index, inside whatever transaction `sql` belongs to. Its
 * SQL is store-specific (SQLite FTS5, PostgreSQL tsvector + GIN), so each store implements it.
 */
export interface FullTextIndex {
  /** Creates the index if missing. */
  setup(sql: Sql, index: string): Promise<void>;
  upsert(sql: Sql, index: string, doc: FullTextDocument): Promise<void>;
  remove(sql: Sql, index: string, id: string): Promise<void>;
  /**
   * Ids matching every word of `query` (prefix match on the last word), best first (ties by id),
   * with the total number of matches. A query with no searchable word matches nothing.
   */
  search(
    sql: Sql,
    index: string,
    query: string,
    page: { limit: number; offset: number },
  ): Promise<{ ids: string[]; total: number }>;
}
