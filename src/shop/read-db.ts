import type { FullTextIndex } from '../core/full-text.js';
import type { Query } from '../core/messages.js';
import type { QueryHandler } from '../core/query-bus.js';
import type { Sql } from '../core/sql.js';
import { PAGE_SIZE } from './commands.js';
import type { ListingItem, ShopQueryAnswers } from './queries.js';

/**
 * What the shop's projections and query handlers work through: SQL that SQLite and PostgreSQL
 * share, and the store's full-text index. Projections get the read DB's (in its transaction);
 * queries get a read-only connection to the read DB (level 2) or to the write DB (level 1).
 */
export interface ProjectionDb {
  readonly sql: Sql;
  readonly fullText: FullTextIndex;
}

/** The handle every shop query handler receives (read-only). */
export type QueryDb = ProjectionDb;

/** A shop query handler: its query, the answer the contract gives it, the read handle. */
export type ShopQueryHandler<Q extends Query<keyof ShopQueryAnswers>> = QueryHandler<
  Q,
  ShopQueryAnswers[Q['type']],
  QueryDb
>;

/** The read DB's full-text index of active products (the `search` projection keeps it). */
export const SEARCH_INDEX = 'search';
/** The write DB's full-text index of active products (the command handlers keep it). */
export const PRODUCTS_FTS_INDEX = 'products_fts';

/** BIGINT and COUNT come back as strings from some drivers (pg): read them as numbers. */
export const num = (v: number | string | bigint | null | undefined): number =>
  v === null || v === undefined ? 0 : Number(v);

/** Mean rating rounded to 2 decimals, or null without reviews: one rule for both read modes. */
export function avgRating(sum: number, count: number): number | null {
  return count > 0 ? Math.round((sum / count) * 100) / 100 : null;
}

/** Epoch ms (as stored) to the ISO string answers carry. */
export const iso = (ms: number | string): string => new Date(Number(ms)).toISOString();

/** An event's ISO time to epoch ms (as stored). */
export const epochMs = (at: string): number => {
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) throw new Error(`Not an ISO time: ${at}`);
  return ms;
};

/** The UTC day (YYYY-MM-DD) an instant falls on, with its bounds in epoch ms. */
export function utcDay(at: string | number): { day: string; start: number; end: number } {
  const ms = typeof at === 'number' ? at : epochMs(at);
  const start = Math.floor(ms / 86_400_000) * 86_400_000;
  return { day: new Date(start).toISOString().slice(0, 10), start, end: start + 86_400_000 };
}

/** Page numbers start at 1; anything else reads as page 1. */
export function pageWindow(page: number): { page: number; limit: number; offset: number } {
  const p = Number.isSafeInteger(page) && page >= 1 ? page : 1;
  return { page: p, limit: PAGE_SIZE, offset: (p - 1) * PAGE_SIZE };
}

/** The columns both read modes select to build a listing item. */
export interface ListingRow {
  id: string;
  name: string;
  price_cents: number | string;
  stock: number | string | null;
  rating_sum: number | string | null;
  rating_count: number | string | null;
  category_name: string;
  thumbnail_url: string | null;
}

export function listingItem(r: ListingRow): ListingItem {
  const count = num(r.rating_count);
  return {
    id: r.id,
    name: r.name,
    priceCents: num(r.price_cents),
    stockAvailable: num(r.stock) > 0,
    avgRating: avgRating(num(r.rating_sum), count),
    reviewCount: count,
    categoryName: r.category_name,
    thumbnailUrl: r.thumbnail_url,
  };
}

/** Rows in the order of `ids` (ids without a row are left out). */
export function inOrder<R extends { id: string }>(ids: readonly string[], rows: readonly R[]): R[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const r = byId.get(id);
    return r ? [r] : [];
  });
}

/** `?, ?, ?` for an IN list of `n` values. */
export const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');
