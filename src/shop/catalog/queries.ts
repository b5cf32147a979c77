import type { Sql } from '../../core/sql.js';
import { PAGE_SIZE } from '../commands.js';
import type {
  CatalogPage,
  ListCategories,
  ListingItem,
  ProductDetail,
  ProductDetailView,
  RecentlyUpdated,
  ReviewView,
} from '../queries.js';
import {
  inOrder,
  iso,
  type ListingRow,
  listingItem,
  num,
  pageWindow,
  placeholders,
  type ShopQueryHandler,
} from '../read-db.js';
import { ALL_PRODUCTS, MARKS_FROM_OFFSET, pageRange, pageWhere } from './page-marks.js';
import { RECENT_REVIEWS } from './projection.js';
import type { RecentReview } from './recent-reviews.js';

export interface CatalogQueryHandlers {
  readonly ListCategories: ShopQueryHandler<ListCategories>;
  readonly CatalogPage: ShopQueryHandler<CatalogPage>;
  readonly ProductDetail: ShopQueryHandler<ProductDetail>;
  readonly RecentlyUpdated: ShopQueryHandler<RecentlyUpdated>;
}

const RELATED = 4;
const RECENTLY_UPDATED = 20;

interface ReviewRow {
  id: string;
  rating: number | string;
  text: string;
  author_name: string;
  created_at: number | string;
}
const reviewView = (r: ReviewRow): ReviewView => ({
  id: r.id,
  rating: num(r.rating),
  text: r.text,
  authorName: r.author_name,
  createdAt: iso(r.created_at),
});

interface DetailRow extends ListingRow {
  sku: string;
  description: string;
  category_id: string;
  active: number | string;
}

function detailView(
  p: DetailRow,
  histogram: ProductDetailView['ratingHistogram'],
  recentReviews: ReviewView[],
  related: ListingItem[],
): ProductDetailView {
  return {
    ...listingItem(p),
    sku: p.sku,
    description: p.description,
    categoryId: p.category_id,
    active: num(p.active) === 1,
    stock: num(p.stock),
    ratingHistogram: histogram,
    recentReviews,
    related,
  };
}

interface UpdatedRow {
  id: string;
  name: string;
  price_cents: number | string;
  updated_at: number | string;
}
const updatedItem = (r: UpdatedRow) => ({
  id: r.id,
  name: r.name,
  priceCents: num(r.price_cents),
  updatedAt: iso(r.updated_at),
});

// ---------------------------------------------------------------------------------------------
// Level 2: the catalog read model (flat documents, counts kept by the projection).

const DOC = `id, name, price_cents, stock, rating_sum, rating_count, category_name, thumbnail_url`;

/** Level 2: every catalog query reads only the `catalog` projection's tables. */
export const catalogReadModelQueries: CatalogQueryHandlers = {
  ListCategories: {
    projections: ['catalog'],
    async handle(_q, { sql }) {
      const rows = await sql.all<{ id: string; name: string; product_count: number | string }>(
        'SELECT id, name, product_count FROM rm_catalog_categories ORDER BY name, id',
      );
      return {
        items: rows.map((r) => ({ id: r.id, name: r.name, productCount: num(r.product_count) })),
      };
    },
  },

  CatalogPage: {
    projections: ['catalog'],
    async handle(q, { sql }) {
      const { page, limit, offset } = pageWindow(q.data.page);
      const { categoryId } = q.data;
      const listing = categoryId ?? ALL_PRODUCTS;
      const [count, range] = await Promise.all([
        categoryId === undefined
          ? sql.get<{ n: number | string | null }>(
              'SELECT SUM(product_count) AS n FROM rm_catalog_categories',
            )
          : sql.get<{ n: number | string }>(
              'SELECT product_count AS n FROM rm_catalog_categories WHERE id = ?',
              [categoryId],
            ),
        // Where a deep page lies: from the last page mark before it to the first one after it,
        // not everything from the listing's first entry.
        offset >= MARKS_FROM_OFFSET ? pageRange(sql, listing, offset, limit) : undefined,
      ]);
      const read = (bounded: boolean) => {
        const part = pageWhere(listing, offset, range, bounded);
        return sql.all<ListingRow>(
          `SELECT ${DOC} FROM rm_catalog_products WHERE ${part.where}
           ORDER BY name, id LIMIT ? OFFSET ?`,
          [...part.params, limit, part.skip],
        );
      };
      let rows = await read(range?.end !== undefined);
      // The marks were read in a snapshot of their own: if products left the page's stretches
      // since, the bound cut the page short. It reads on past the bound then.
      if (range?.end && rows.length < limit) rows = await read(false);
      return { items: rows.map(listingItem), page, pageSize: PAGE_SIZE, total: num(count?.n) };
    },
  },

  ProductDetail: {
    projections: ['catalog'],
    async handle(q, { sql }) {
      const { productId } = q.data;
      const p = await sql.get<DetailRow & Record<`rating_${1 | 2 | 3 | 4 | 5}`, number | string>>(
        `SELECT ${DOC}, sku, description, category_id, active,
           rating_1, rating_2, rating_3, rating_4, rating_5
         FROM rm_catalog_products WHERE id = ?`,
        [productId],
      );
      if (!p) return null;
      const [reviews, related] = await Promise.all([
        sql.get<{ reviews: string }>(
          'SELECT reviews FROM rm_catalog_recent_reviews WHERE product_id = ?',
          [productId],
        ),
        sql.all<ListingRow>(
          `SELECT ${DOC} FROM rm_catalog_products
            WHERE category_id = ? AND active = 1 AND id <> ?
            ORDER BY rating_mean DESC, name, id LIMIT ${RELATED}`,
          [p.category_id, productId],
        ),
      ]);
      const histogram = {
        '1': num(p.rating_1),
        '2': num(p.rating_2),
        '3': num(p.rating_3),
        '4': num(p.rating_4),
        '5': num(p.rating_5),
      };
      const recent = reviews ? (JSON.parse(reviews.reviews) as RecentReview[]) : [];
      return detailView(
        p,
        histogram,
        recent.map((r) => ({
          id: r.id,
          rating: r.rating,
          text: r.text,
          authorName: r.authorName,
          createdAt: iso(r.createdAt),
        })),
        related.map(listingItem),
      );
    },
  },

  RecentlyUpdated: {
    projections: ['catalog'],
    async handle(_q, { sql }) {
      const rows = await sql.all<UpdatedRow>(
        `SELECT id, name, price_cents, updated_at FROM rm_catalog_products
          ORDER BY updated_at DESC, id DESC LIMIT ${RECENTLY_UPDATED}`,
      );
      return { items: rows.map(updatedItem) };
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Level 1: hand-tuned SQL on the write DB's normalized tables.

/**
 * Listing items from the normalized tables for the products `source` yields (a derived table
 * with an `id` column): stock and rating figures are aggregated per listed product only, through
 * covering indexes (inventory's key, `reviews (product_id, rating)`).
 */
const listingFrom = (source: string) =>
  `SELECT p.id, p.name, p.price_cents, p.thumbnail_url, c.name AS category_name,
     (SELECT SUM(i.quantity) FROM inventory i WHERE i.product_id = p.id) AS stock,
     (SELECT SUM(r.rating) FROM reviews r WHERE r.product_id = p.id) AS rating_sum,
     (SELECT COUNT(*) FROM reviews r WHERE r.product_id = p.id) AS rating_count
   FROM ${source} page
   JOIN products p ON p.id = page.id
   JOIN categories c ON c.id = p.category_id`;

/** Level 1: listing items for `ids`, in that order (one query, whatever the number of ids). */
export async function writeDbListing(sql: Sql, ids: readonly string[]): Promise<ListingItem[]> {
  if (ids.length === 0) return [];
  const rows = await sql.all<ListingRow>(
    listingFrom(`(SELECT id FROM products WHERE id IN (${placeholders(ids.length)}))`),
    ids,
  );
  return inOrder(ids, rows).map(listingItem);
}

/**
 * Level 1's related products: the category's active products ranked by mean rating (no reviews
 * ranks as 0). SQLite plans the grouped join from the category's index. PostgreSQL plans it as a
 * scan of every product in key order (to feed the GROUP BY), filtering the category out of all
 * of them (32 ms at 100,000 products, docs/benchmarks.md); there each mean is a correlated
 * aggregate instead, which keeps the plan on the category's index (~15 ms).
 */
const RELATED_SQLITE = `(SELECT p.id, p.name,
    CASE WHEN COUNT(r.rating) = 0 THEN 0
         ELSE CAST(SUM(r.rating) AS DOUBLE PRECISION) / COUNT(r.rating) END AS mean
  FROM products p LEFT JOIN reviews r ON r.product_id = p.id
  WHERE p.category_id = ? AND p.active = 1 AND p.id <> ?
  GROUP BY p.id, p.name
  ORDER BY mean DESC, p.name, p.id LIMIT ${RELATED})`;
const RELATED_PG = `(SELECT p.id, p.name,
    (SELECT CASE WHEN COUNT(r.rating) = 0 THEN 0
                 ELSE CAST(SUM(r.rating) AS DOUBLE PRECISION) / COUNT(r.rating) END
       FROM reviews r WHERE r.product_id = p.id) AS mean
  FROM products p
  WHERE p.category_id = ? AND p.active = 1 AND p.id <> ?
  ORDER BY mean DESC, p.name, p.id LIMIT ${RELATED})`;
/** Level 1: the same answers computed on the write DB; no projection to wait for. */
export const catalogWriteDbQueries: CatalogQueryHandlers = {
  ListCategories: {
    projections: [],
    async handle(_q, { sql }) {
      const rows = await sql.all<{ id: string; name: string; product_count: number | string }>(
        `SELECT c.id, c.name,
           (SELECT COUNT(*) FROM products p WHERE p.category_id = c.id AND p.active = 1) AS product_count
         FROM categories c ORDER BY c.name, c.id`,
      );
      return {
        items: rows.map((r) => ({ id: r.id, name: r.name, productCount: num(r.product_count) })),
      };
    },
  },

  CatalogPage: {
    projections: [],
    async handle(q, { sql }) {
      const { page, limit, offset } = pageWindow(q.data.page);
      const { categoryId } = q.data;
      const where = categoryId === undefined ? 'active = 1' : 'category_id = ? AND active = 1';
      const params = categoryId === undefined ? [] : [categoryId];
      const [count, rows] = await Promise.all([
        sql.get<{ n: number | string }>(
          `SELECT COUNT(*) AS n FROM products WHERE ${where}`,
          params,
        ),
        sql.all<ListingRow>(
          `${listingFrom(`(SELECT id FROM products WHERE ${where} ORDER BY name, id LIMIT ? OFFSET ?)`)}
           ORDER BY p.name, p.id`,
          [...params, limit, offset],
        ),
      ]);
      return { items: rows.map(listingItem), page, pageSize: PAGE_SIZE, total: num(count?.n) };
    },
  },

  ProductDetail: {
    projections: [],
    async handle(q, { sql }) {
      const { productId } = q.data;
      const p = await sql.get<Omit<DetailRow, 'rating_sum' | 'rating_count'>>(
        `SELECT p.id, p.sku, p.name, p.description, p.category_id, c.name AS category_name,
           p.price_cents, p.thumbnail_url, p.active,
           (SELECT SUM(i.quantity) FROM inventory i WHERE i.product_id = p.id) AS stock
         FROM products p JOIN categories c ON c.id = p.category_id WHERE p.id = ?`,
        [productId],
      );
      if (!p) return null;
      const [stars, reviews, related] = await Promise.all([
        sql.all<{ rating: number | string; n: number | string }>(
          'SELECT rating, COUNT(*) AS n FROM reviews WHERE product_id = ? GROUP BY rating',
          [productId],
        ),
        sql.all<ReviewRow>(
          `SELECT r.id, r.rating, r.text, cu.name AS author_name, r.created_at
             FROM reviews r JOIN customers cu ON cu.id = r.customer_id
            WHERE r.product_id = ? ORDER BY r.created_at DESC, r.id DESC LIMIT ${RECENT_REVIEWS}`,
          [productId],
        ),
        // Mean rating of each active product of the category; no reviews ranks as 0 (below 1★).
        sql.all<ListingRow & { mean: number }>(
          `${listingFrom(sql.dialect === 'postgres' ? RELATED_PG : RELATED_SQLITE)}
          ORDER BY page.mean DESC, p.name, p.id`,
          [p.category_id, productId],
        ),
      ]);
      const histogram = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
      let sum = 0;
      let count = 0;
      for (const s of stars) {
        const rating = num(s.rating);
        const n = num(s.n);
        histogram[String(rating) as keyof typeof histogram] = n;
        sum += rating * n;
        count += n;
      }
      return detailView(
        { ...p, rating_sum: sum, rating_count: count },
        histogram,
        reviews.map(reviewView),
        related.map(listingItem),
      );
    },
  },

  RecentlyUpdated: {
    projections: [],
    async handle(_q, { sql }) {
      const rows = await sql.all<UpdatedRow>(
        `SELECT id, name, price_cents, updated_at FROM products
          ORDER BY updated_at DESC, id DESC LIMIT ${RECENTLY_UPDATED}`,
      );
      return { items: rows.map(updatedItem) };
    },
  },
};
