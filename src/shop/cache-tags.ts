import type { RecordedEvent } from '../core/messages.js';
import type { ShopEvent } from './events.js';
import type { ListingPage, ProductDetailView } from './queries.js';

/**
 * Which cached answers an event makes stale, as tags: `product:<id>` (every page and document
 * that shows the product), `category:<id>` (the pages of a category whose membership or order
 * changed; `category:*` is the all-products listing). Precise on purpose: a price change drops
 * exactly the pages and documents that show that product.
 */
export class CatalogCacheTags {
  /** product -> category, learned from the events, to invalidate pages on (de)activation. */
  private readonly categoryOf = new Map<string, string>();

  tagsFor(events: readonly RecordedEvent[]): string[] {
    const tags = new Set<string>();
    for (const e of events as readonly RecordedEvent<ShopEvent>[]) {
      switch (e.type) {
        case 'ProductAdded':
          this.categoryOf.set(e.data.productId, e.data.categoryId);
          tags.add(`category:${e.data.categoryId}`).add('category:*');
          break;
        case 'ProductDetailsChanged': {
          tags.add(`product:${e.data.productId}`);
          if (e.data.categoryId !== undefined || e.data.name !== undefined) {
            // membership or order of the category's pages changed
            const previous = e.data.previousCategoryId ?? this.categoryOf.get(e.data.productId);
            if (previous) tags.add(`category:${previous}`);
            else tags.add('pages');
            if (e.data.categoryId) {
              tags.add(`category:${e.data.categoryId}`);
              this.categoryOf.set(e.data.productId, e.data.categoryId);
            }
            tags.add('category:*');
          }
          break;
        }
        case 'ProductActivated':
        case 'ProductDeactivated': {
          tags.add(`product:${e.data.productId}`).add('category:*');
          const category = this.categoryOf.get(e.data.productId);
          tags.add(category ? `category:${category}` : 'pages');
          break;
        }
        case 'ProductPriceUpdated':
        case 'StockLevelSet':
        case 'StockReserved':
        case 'StockReleased':
        case 'ReviewCreated':
          tags.add(`product:${e.data.productId}`);
          break;
        default:
          break;
      }
    }
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
export const productKey = (productId: string) => `product:${productId}`;
export const productTags = (productId: string, answer: ProductDetailView) => [
  `product:${productId}`,
  ...answer.related.map((r) => `product:${r.id}`),
];
