import type { RecordedEvent } from '../core/messages.js';
import type { CatalogApplied } from './catalog/projection.js';
import type { ShopEvent } from './events.js';
import type { ListingPage, ProductDetailView } from './queries.js';

/**
 * Which cached answers an event makes stale, as tags: `product:<id>` (every page and document
 * that shows the product), `stock:<id>` (what shows its unit count: its own document only;
 * listings show `stockAvailable`), `category:<id>` (the pages of a category whose membership or order
 * changed; `category:*` is the all-products listing), `related:<id>` (the documents of a
 * category's products, whose related list — the best rated others of the category — changes with
 * the category's membership, names and ratings; `docs` when the category is unknown). Precise on
 * purpose: a price change drops exactly the pages and documents that show that product.
 */
export class CatalogCacheTags {
  /** product -> category, learned from the events, to invalidate pages on (de)activation. */
  private readonly categoryOf = new Map<string, string>();

  /** The documents whose related list may change with this product: its category's, or all. */
  private relatedOf(productId: string, applied: CatalogApplied | undefined): string {
    const category = applied?.categoryOf.get(productId) ?? this.categoryOf.get(productId);
    return category ? `related:${category}` : 'docs';
  }

  /**
   * The tags of a batch of events. With what the catalog projection reported for that batch
   * (`applied`), a stock change that left the product's availability as it was drops only its
   * document (`stock:<id>`); without it (e.g. raw events heard from the bus), every listing of
   * the product (`product:<id>`).
   */
  tagsFor(events: readonly RecordedEvent[], applied?: CatalogApplied): string[] {
    const tags = new Set<string>();
    for (const e of events as readonly RecordedEvent<ShopEvent>[]) {
      switch (e.type) {
        case 'ProductAdded':
          this.categoryOf.set(e.data.productId, e.data.categoryId);
          tags.add(`category:${e.data.categoryId}`).add('category:*');
          tags.add(`related:${e.data.categoryId}`);
          break;
        case 'ProductDetailsChanged': {
          tags.add(`product:${e.data.productId}`);
          if (e.data.categoryId !== undefined || e.data.name !== undefined) {
            // membership or order of the category's pages changed
            const previous = e.data.previousCategoryId ?? this.categoryOf.get(e.data.productId);
            if (previous) tags.add(`category:${previous}`).add(`related:${previous}`);
            else tags.add('pages').add('docs');
            if (e.data.categoryId) {
              tags.add(`category:${e.data.categoryId}`).add(`related:${e.data.categoryId}`);
              this.categoryOf.set(e.data.productId, e.data.categoryId);
            }
            tags.add('category:*');
          }
          break;
        }
        case 'ProductActivated':
        case 'ProductDeactivated': {
          tags.add(`product:${e.data.productId}`).add('category:*');
          const category =
            applied?.categoryOf.get(e.data.productId) ?? this.categoryOf.get(e.data.productId);
          tags.add(category ? `category:${category}` : 'pages');
          tags.add(this.relatedOf(e.data.productId, applied));
          break;
        }
        case 'ReviewCreated':
          // The rating orders the related lists of the product's category.
          tags.add(`product:${e.data.productId}`).add(this.relatedOf(e.data.productId, applied));
          break;
        case 'ProductPriceUpdated':
          tags.add(`product:${e.data.productId}`);
          break;
        case 'StockLevelSet':
        case 'StockReserved':
        case 'StockReleased':
          tags.add(
            applied?.availabilityKept.has(e.data.productId)
              ? `stock:${e.data.productId}`
              : `product:${e.data.productId}`,
          );
          break;
        default:
          break;
      }
    }
    // What the read model said after the batch holds for the next batches too.
    for (const [product, category] of applied?.categoryOf ?? [])
      this.categoryOf.set(product, category);
    return [...tags];
  }
}

export const pageKey = (categoryId: string | undefined, page: number) =>
  `catalog:${categoryId ?? '*'}:${page}`;
export const pageTags = (categoryId: string | undefined, answer: ListingPage) => [
  'pages',
  `category:${categoryId ?? '*'}`,
  ...answer.items.map((i) => `product:${i.id}`),
];
/**
 * Search answers: `search` is dropped whenever the search projection applies a batch (what is
 * indexed changed: a product added, renamed, moved or (de)activated), `product:<id>` when a listed
 * product's figures change, as on catalog pages.
 */
export const SEARCH_TAG = 'search';
/** The events the search projection indexes (`searchProjection.handles`). */
const SEARCHED = new Set<string>([
  'CategoryCreated',
  'ProductAdded',
  'ProductDetailsChanged',
  'ProductActivated',
  'ProductDeactivated',
]);
/** The search tag when `events` change what is indexed (to invalidate once `search` applied them). */
export const searchTagsFor = (events: readonly RecordedEvent[]): string[] =>
  events.some((e) => SEARCHED.has(e.type)) ? [SEARCH_TAG] : [];
export const searchKey = (q: string, page: number) => `search:${page}:${q}`;
export const searchTags = (answer: ListingPage) => [
  SEARCH_TAG,
  ...answer.items.map((i) => `product:${i.id}`),
];
export const productKey = (productId: string) => `product:${productId}`;
export const productTags = (productId: string, answer: ProductDetailView) => [
  'docs',
  `product:${productId}`,
  `stock:${productId}`,
  `related:${answer.categoryId}`,
  ...answer.related.map((r) => `product:${r.id}`),
];
