import type { Event } from '../core/messages.js';

/**
 * Every event the shop records. Names are past tense; `type` equals the type name. Each carries
 * its schema version in `data.v` so that projections can upcast old shapes. Money is integer
 * cents; times are ISO strings taken from the command's metadata (never the projection's clock).
 */
export type CategoryCreated = Event<
  'CategoryCreated',
  { v: 1; categoryId: string; name: string; at: string }
>;
export type ProductAdded = Event<
  'ProductAdded',
  {
    v: 1;
    productId: string;
    sku: string;
    name: string;
    description: string;
    categoryId: string;
    priceCents: number;
    maxAllowedPriceCents: number | null;
    thumbnailUrl: string | null;
    at: string;
  }
>;
export type ProductPriceUpdated = Event<
  'ProductPriceUpdated',
  { v: 1; productId: string; priceCents: number; previousPriceCents: number; at: string }
>;
export type ProductDetailsChanged = Event<
  'ProductDetailsChanged',
  {
    v: 1;
    productId: string;
    name?: string;
    description?: string;
    categoryId?: string;
    previousCategoryId?: string;
    thumbnailUrl?: string | null;
    at: string;
  }
>;
export type ProductActivated = Event<'ProductActivated', { v: 1; productId: string; at: string }>;
export type ProductDeactivated = Event<
  'ProductDeactivated',
  { v: 1; productId: string; at: string }
>;
/** `quantity` is the units available for sale in that warehouse after the change. */
export type StockLevelSet = Event<
  'StockLevelSet',
  { v: 1; productId: string; warehouse: string; quantity: number; at: string }
>;
export type StockReserved = Event<
  'StockReserved',
  { v: 1; productId: string; orderId: string; warehouse: string; quantity: number; at: string }
>;
export type StockReleased = Event<
  'StockReleased',
  { v: 1; productId: string; orderId: string; warehouse: string; quantity: number; at: string }
>;
export type CustomerRegistered = Event<
  'CustomerRegistered',
  { v: 1; customerId: string; name: string; at: string }
>;
export type ReviewCreated = Event<
  'ReviewCreated',
  {
    v: 1;
    reviewId: string;
    productId: string;
    customerId: string;
    authorName: string;
    rating: number;
    text: string;
    at: string;
  }
>;
export interface OrderLine {
  readonly productId: string;
  readonly name: string;
  readonly quantity: number;
  readonly unitPriceCents: number;
}
export type OrderPlaced = Event<
  'OrderPlaced',
  {
    v: 1;
    orderId: string;
    customerId: string;
    items: readonly OrderLine[];
    totalCents: number;
    at: string;
  }
>;
export type OrderCancelled = Event<
  'OrderCancelled',
  {
    v: 1;
    orderId: string;
    customerId: string;
    items: readonly OrderLine[];
    totalCents: number;
    at: string;
  }
>;
export type CartCreated = Event<
  'CartCreated',
  { v: 1; cartId: string; customerId: string; at: string }
>;
export type CartItemAdded = Event<
  'CartItemAdded',
  { v: 1; cartId: string; productId: string; quantity: number; at: string }
>;
export type CartItemRemoved = Event<
  'CartItemRemoved',
  { v: 1; cartId: string; productId: string; at: string }
>;
export type CartCheckedOut = Event<
  'CartCheckedOut',
  { v: 1; cartId: string; orderId: string; at: string }
>;

export type ShopEvent =
  | CategoryCreated
  | ProductAdded
  | ProductPriceUpdated
  | ProductDetailsChanged
  | ProductActivated
  | ProductDeactivated
  | StockLevelSet
  | StockReserved
  | StockReleased
  | CustomerRegistered
  | ReviewCreated
  | OrderPlaced
  | OrderCancelled
  | CartCreated
  | CartItemAdded
  | CartItemRemoved
  | CartCheckedOut;

/** Stream ids: one stream per aggregate instance. */
export const streams = {
  category: (id: string) => `category-${id}`,
  product: (id: string) => `product-${id}`,
  customer: (id: string) => `customer-${id}`,
  order: (id: string) => `order-${id}`,
  cart: (id: string) => `cart-${id}`,
} as const;
