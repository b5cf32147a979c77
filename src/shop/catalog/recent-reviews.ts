/** A review as the catalog read model keeps it for the detail page (time in epoch ms). */
export interface RecentReview {
  readonly id: string;
  readonly rating: number;
  readonly text: string;
  readonly authorName: string;
  readonly createdAt: number;
}

/**
 * Compares strings by code point, which is the byte order of their UTF-8 and so the order of
 * SQLite's default (BINARY) collation. Plain `<` compares UTF-16 code units, which puts
 * U+E000–U+FFFF after the characters beyond U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (D800–DFFF) move above E000–FFFF; E000–FFFF move down into their place.
      if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
      if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Newest first: by time, then by id, both descending (`ORDER BY created_at DESC, id DESC`). */
export const newestFirst = (a: RecentReview, b: RecentReview): number =>
  b.createdAt - a.createdAt || compareCodePoints(b.id, a.id);

/**
 * Adds `review` to `kept` (newest first, at most `limit` long) in place, keeping it sorted and
 * dropping what falls past `limit`. Returns whether `kept` changed.
 */
export function keepNewest(kept: RecentReview[], review: RecentReview, limit: number): boolean {
  let at = kept.length;
  while (at > 0) {
    const order = newestFirst(review, kept[at - 1]!);
    if (order === 0) return false; // the same review again
    if (order > 0) break;
    at--;
  }
  if (at >= limit) return false;
  kept.splice(at, 0, review);
  if (kept.length > limit) kept.length = limit;
  return true;
}
