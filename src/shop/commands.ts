import type { Command } from '../core/messages.js';

/**
 * Every command the shop accepts. Ids of new things are chosen by the caller (the HTTP route
 * makes UUIDs) so that handlers stay deterministic. Who asks is `metadata.actor`: `'admin'` or a
 * customer id; the time is `metadata.now`.
 */
export type CreateCategory = Command<'CreateCategory', { categoryId: string; name: string }>;
export type AddProduct = Command<
  'AddProduct',
  {
    productId: string;
    sku: string;
    name: string;
    description: string;
    categoryId: string;
    priceCents: number;
    maxAllowedPriceCents?: number;
    thumbnailUrl?: string;
  }
>;
export type UpdateProductPrice = Command<
  'UpdateProductPrice',
  { productId: string; priceCents: number }
>;
export type ChangeProductDetails = Command<
  'ChangeProductDetails',
  {
    productId: string;
    name?: string;
    description?: string;
    categoryId?: string;
    thumbnailUrl?: string | null;
    active?: boolean;
  }
>;
export type SetStockLevel = Command<
  'SetStockLevel',
  { productId: string; warehouse: string; quantity: number }
>;
/** `tokenHash`: SHA-256 (hex) of the bearer token the route handed out; the token itself is never stored. */
export type RegisterCustomer = Command<
  'RegisterCustomer',
  { customerId: string; email: string; name: string; tokenHash: string }
>;
/** The reviewer is the command's actor. */
export type CreateReview = Command<
  'CreateReview',
  { reviewId: string; productId: string; rating: number; text: string }
>;
/**
 * The customer is the command's actor; prices come from the catalog, never from the client.
 * Without `orderId` the handler names the order with a new time-ordered id (what the HTTP API
 * does): its rows and its stream then go in at the end of their indexes, not on random pages.
 */
export type PlaceOrder = Command<
  'PlaceOrder',
  { orderId?: string; items: readonly { productId: string; quantity: number }[] }
>;
/** Allowed to the order's owner and to admins; anyone else gets NOT_FOUND. */
export type CancelOrder = Command<'CancelOrder', { orderId: string }>;

// Carts (level 3, event-sourced: src/shop/carts/decider.ts). The owner is the command's actor;
// anyone else is told NOT_FOUND.
export type CreateCart = Command<'CreateCart', { cartId: string }>;
/** `quantity`: 1 to 10,000, added to what the cart already holds of that product. */
export type AddCartItem = Command<
  'AddCartItem',
  { cartId: string; productId: string; quantity: number }
>;
/** Removes the whole line; removing a product the cart does not hold changes nothing. */
export type RemoveCartItem = Command<'RemoveCartItem', { cartId: string; productId: string }>;
/**
 * Turns the cart into an order (priced from the catalog, stock reserved), in one transaction: the
 * order `orderId`, or without it one named as `PlaceOrder` names it.
 */
export type CheckOutCart = Command<'CheckOutCart', { cartId: string; orderId?: string }>;
export type CartCommand = CreateCart | AddCartItem | RemoveCartItem | CheckOutCart;

export type ShopCommand =
  | CreateCategory
  | AddProduct
  | UpdateProductPrice
  | ChangeProductDetails
  | SetStockLevel
  | RegisterCustomer
  | CreateReview
  | PlaceOrder
  | CancelOrder
  | CartCommand;

/** What each command answers besides its `position`. */
export interface ShopCommandResults {
  CreateCategory: { id: string };
  AddProduct: { id: string };
  UpdateProductPrice: Record<string, never>;
  ChangeProductDetails: Record<string, never>;
  SetStockLevel: Record<string, never>;
  RegisterCustomer: { customerId: string };
  CreateReview: { id: string };
  PlaceOrder: { orderId: string; totalCents: number };
  CancelOrder: Record<string, never>;
  CreateCart: { cartId: string };
  AddCartItem: CartView;
  RemoveCartItem: CartView;
  CheckOutCart: { orderId: string; totalCents: number };
}

/** A cart as its owner sees it (the fold of its stream). */
export interface CartView {
  cartId: string;
  status: 'open' | 'checked_out';
  /** In the order each product was first added (a product removed and added again goes last). */
  items: { productId: string; quantity: number }[];
}

/** The actor value that means "an admin". */
export const ADMIN = 'admin';
/** Units at or below which the dashboard lists a product as low on stock. */
export const LOW_STOCK_THRESHOLD = 10;
export const PAGE_SIZE = 24;
