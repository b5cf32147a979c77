import type { Query } from '../core/messages.js';

/** A catalog listing document: flat, pre-joined, pre-computed (the brief's shape). */
export interface ListingItem {
  id: string;
  name: string;
  priceCents: number;
  stockAvailable: boolean;
  /** Mean rating rounded to 2 decimals; null without reviews. */
  avgRating: number | null;
  reviewCount: number;
  categoryName: string;
  thumbnailUrl: string | null;
}
export interface ListingPage {
  items: ListingItem[];
  page: number;
  pageSize: 24;
  total: number;
}
export interface ReviewView {
  id: string;
  rating: number;
  text: string;
  authorName: string;
  createdAt: string;
}
export interface ProductDetailView extends ListingItem {
  sku: string;
  description: string;
  categoryId: string;
  active: boolean;
  /** Total units available over all warehouses. */
  stock: number;
  /** Count of reviews per star, keys "1" to "5". */
  ratingHistogram: Record<'1' | '2' | '3' | '4' | '5', number>;
  /** The 5 newest reviews, newest first. */
  recentReviews: ReviewView[];
  /** Up to 4 other active products of the same category, best rated first (then by name, id). */
  related: ListingItem[];
}
export interface OrderView {
  orderId: string;
  customerId: string;
  status: 'placed' | 'cancelled';
  items: { productId: string; name: string; quantity: number; unitPriceCents: number }[];
  totalCents: number;
  createdAt: string;
}
export interface DashboardView {
  /** Since 00:00 UTC of the asking time. */
  ordersToday: number;
  revenueTodayCents: number;
  /** Active products with at most LOW_STOCK_THRESHOLD units, fewest first (then name, id), at most 20. */
  lowStock: { id: string; name: string; stock: number }[];
  /** Products by units sold in orders that are not cancelled, most first (then name, id), at most 10. */
  topSellers: { id: string; name: string; unitsSold: number }[];
  /** The 10 newest orders, newest first. */
  recentOrders: {
    orderId: string;
    customerId: string;
    status: string;
    totalCents: number;
    createdAt: string;
  }[];
  /** Carts with items, not checked out, and unchanged for over an hour before the asking time. */
  abandonedCarts: number;
}
/** An open cart in a customer's list. */
export interface OpenCartView {
  cartId: string;
  items: { productId: string; quantity: number }[];
  /** The time of the cart's last change. */
  updatedAt: string;
}

export type ListCategories = Query<'ListCategories', Record<string, never>>;
/** Active products only, ordered by name then id. Without `categoryId`: the whole catalog. */
export type CatalogPage = Query<'CatalogPage', { categoryId?: string; page: number }>;
/** Inactive products are still found by id (with `active: false`). */
export type ProductDetail = Query<'ProductDetail', { productId: string }>;
/** Full-text over name, description and category name; active products; best match first. */
export type SearchProducts = Query<'SearchProducts', { q: string; page: number }>;
/** "Customers who bought this also bought": up to 4 active products, most common first. */
export type AlsoBought = Query<'AlsoBought', { productId: string }>;
export type OrderById = Query<'OrderById', { orderId: string }>;
export type CustomerOrders = Query<'CustomerOrders', { customerId: string }>;
/** `now` (ISO) fixes "today" so both read modes agree. */
export type AdminDashboard = Query<'AdminDashboard', { now: string }>;
/** The 20 most recently changed products (added, price, details, activation, stock level set by an admin), newest first. */
export type RecentlyUpdated = Query<'RecentlyUpdated', Record<string, never>>;
/** A customer's open carts (empty ones too), last changed first. */
export type OpenCarts = Query<'OpenCarts', { customerId: string }>;

export interface ShopQueryAnswers {
  ListCategories: { items: { id: string; name: string; productCount: number }[] };
  CatalogPage: ListingPage;
  ProductDetail: ProductDetailView | null;
  SearchProducts: ListingPage;
  AlsoBought: { items: ListingItem[] } | null;
  OrderById: OrderView | null;
  CustomerOrders: { items: OrderView[] };
  AdminDashboard: DashboardView;
  RecentlyUpdated: { items: { id: string; name: string; priceCents: number; updatedAt: string }[] };
  OpenCarts: { items: OpenCartView[] };
}
