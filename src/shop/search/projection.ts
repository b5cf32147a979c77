import type { FullTextIndex } from '../../core/full-text.js';
import type { RecordedEvent } from '../../core/messages.js';
import type { Projection } from '../../core/projection.js';
import type { Sql } from '../../core/sql.js';
import type { ShopEvent } from '../events.js';
import { num, type ProjectionDb, SEARCH_INDEX } from '../read-db.js';

const SETUP = `
  CREATE TABLE IF NOT EXISTS rm_search_categories (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
  );
  -- What the index is built from, so that a change to one field re-indexes the whole document.
  CREATE TABLE IF NOT EXISTS rm_search_products (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    category_id TEXT NOT NULL,
    active      SMALLINT NOT NULL
  );`;

/** Applies one event to the searchable state and marks the products whose document changed. */
async function applyOne(sql: Sql, e: RecordedEvent<ShopEvent>, dirty: Set<string>) {
  switch (e.type) {
    case 'CategoryCreated':
      await sql.run(
        `INSERT INTO rm_search_categories (id, name) VALUES (?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name`,
        [e.data.categoryId, e.data.name],
      );
      return;
    case 'ProductAdded':
      await sql.run(
        `INSERT INTO rm_search_products (id, name, description, category_id, active)
         VALUES (?, ?, ?, ?, 1)`,
        [e.data.productId, e.data.name, e.data.description, e.data.categoryId],
      );
      dirty.add(e.data.productId);
      return;
    case 'ProductDetailsChanged': {
      const d = e.data;
      const sets: string[] = [];
      const params: unknown[] = [];
      const set = (column: string, value: unknown) => {
        sets.push(`${column} = ?`);
        params.push(value);
      };
      if (d.name !== undefined) set('name', d.name);
      if (d.description !== undefined) set('description', d.description);
      if (d.categoryId !== undefined) set('category_id', d.categoryId);
      if (sets.length === 0) return; // e.g. only the thumbnail: nothing searchable changed
      await sql.run(`UPDATE rm_search_products SET ${sets.join(', ')} WHERE id = ?`, [
        ...params,
        d.productId,
      ]);
      dirty.add(d.productId);
      return;
    }
    case 'ProductActivated':
    case 'ProductDeactivated':
      await sql.run('UPDATE rm_search_products SET active = ? WHERE id = ?', [
        e.type === 'ProductActivated' ? 1 : 0,
        e.data.productId,
      ]);
      dirty.add(e.data.productId);
      return;
    default:
      return;
  }
}

/** Brings each changed product's document in line: indexed while active, absent otherwise. */
async function reindex(sql: Sql, fullText: FullTextIndex, ids: Iterable<string>) {
  for (const id of ids) {
    const p = await sql.get<{
      name: string;
      description: string;
      active: number | string;
      category_name: string | null;
    }>(
      `SELECT p.name, p.description, p.active, c.name AS category_name
         FROM rm_search_products p LEFT JOIN rm_search_categories c ON c.id = p.category_id
        WHERE p.id = ?`,
      [id],
    );
    if (p && num(p.active) === 1) {
      await fullText.upsert(sql, SEARCH_INDEX, {
        id,
        title: p.name,
        body: p.description,
        extra: p.category_name ?? '',
      });
    } else {
      await fullText.remove(sql, SEARCH_INDEX, id);
    }
  }
}

/**
 * The search read model: the read DB's full-text index `search` holds every active product
 * (title: name, body: description, extra: category name). Each product is re-indexed at most
 * once per batch, however many of its events the batch holds.
 */
export const searchProjection: Projection<ShopEvent, ProjectionDb> = {
  name: 'search',
  version: 1,
  // The full-text index's tables are the store's: SQLite's FTS5 table and its id keys (whose
  // numbers depend on batching, so verify leaves them out).
  tables: [
    'rm_search_categories',
    'rm_search_products',
    SEARCH_INDEX,
    { name: `${SEARCH_INDEX}_ids`, internal: true },
  ],
  handles: [
    'CategoryCreated',
    'ProductAdded',
    'ProductDetailsChanged',
    'ProductActivated',
    'ProductDeactivated',
  ],
  async setup({ sql, fullText }) {
    await sql.exec(SETUP);
    await fullText.setup(sql, SEARCH_INDEX);
  },
  async reset({ sql, fullText }) {
    const ids = await sql.all<{ id: string }>('SELECT id FROM rm_search_products');
    for (const { id } of ids) await fullText.remove(sql, SEARCH_INDEX, id);
    await sql.run('DELETE FROM rm_search_products');
    await sql.run('DELETE FROM rm_search_categories');
  },
  async apply(events, { sql, fullText }) {
    const dirty = new Set<string>();
    for (const e of events) await applyOne(sql, e, dirty);
    await reindex(sql, fullText, dirty);
  },
};
