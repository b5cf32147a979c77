import type { QueryHandler } from '../../core/query-bus.js';
import { writeDbListing } from '../catalog/queries.js';
import { PAGE_SIZE } from '../commands.js';
import type { ListingPage, SearchProducts } from '../queries.js';
import {
  inOrder,
  type ListingRow,
  listingItem,
  PRODUCTS_FTS_INDEX,
  pageWindow,
  placeholders,
  type QueryDb,
  SEARCH_INDEX,
} from '../read-db.js';

export type SearchHandler = QueryHandler<SearchProducts, ListingPage, QueryDb>;

/**
 * Level 2: ranked ids from the read DB's `search` index, their listing documents from the
 * catalog read model (one query per page).
 */
export const searchReadModelQuery: SearchHandler = {
  projections: ['search', 'catalog'],
  async handle(q, { sql, fullText }) {
    const { page, limit, offset } = pageWindow(q.data.page);
    const { ids, total } = await fullText.search(sql, SEARCH_INDEX, q.data.q, { limit, offset });
    const rows =
      ids.length === 0
        ? []
        : await sql.all<ListingRow>(
            `SELECT id, name, price_cents, stock, rating_sum, rating_count, category_name,
               thumbnail_url
             FROM rm_catalog_products WHERE id IN (${placeholders(ids.length)})`,
            ids,
          );
    return { items: inOrder(ids, rows).map(listingItem), page, pageSize: PAGE_SIZE, total };
  },
};

/** Level 1: ranked ids from the write DB's `products_fts` index, listing items from the tables. */
export const searchWriteDbQuery: SearchHandler = {
  projections: [],
  async handle(q, { sql, fullText }) {
    const { page, limit, offset } = pageWindow(q.data.page);
    const { ids, total } = await fullText.search(sql, PRODUCTS_FTS_INDEX, q.data.q, {
      limit,
      offset,
    });
    return { items: await writeDbListing(sql, ids), page, pageSize: PAGE_SIZE, total };
  },
};
