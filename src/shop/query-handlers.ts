import type { Projection } from '../core/projection.js';
import type { QueryHandler } from '../core/query-bus.js';
import { cartsProjection } from './carts/projection.js';
import { openCartsReadModel, openCartsWriteDb } from './carts/queries.js';
import { catalogProjection } from './catalog/projection.js';
import { catalogReadModelQueries, catalogWriteDbQueries } from './catalog/queries.js';
import type { ShopEvent } from './events.js';
import { alsoBoughtReadModel, alsoBoughtWriteDb } from './orders/also-bought.js';
import { ordersProjection } from './orders/projection.js';
import { ordersReadModelQueries, ordersWriteDbQueries } from './orders/queries.js';
import type {
  AdminDashboard,
  AlsoBought,
  CatalogPage,
  CustomerOrders,
  ListCategories,
  OpenCarts,
  OrderById,
  ProductDetail,
  RecentlyUpdated,
  SearchProducts,
  ShopQueryAnswers,
} from './queries.js';
import type { ProjectionDb, QueryDb } from './read-db.js';
import { searchProjection } from './search/projection.js';
import { searchReadModelQuery, searchWriteDbQuery } from './search/queries.js';

export type ShopQuery =
  | ListCategories
  | CatalogPage
  | ProductDetail
  | SearchProducts
  | AlsoBought
  | OrderById
  | CustomerOrders
  | AdminDashboard
  | RecentlyUpdated
  | OpenCarts;

/** One handler per shop query, typed with the query and its answer. */
export type ShopQueryHandlers = {
  readonly [K in ShopQuery['type']]: QueryHandler<
    Extract<ShopQuery, { type: K }>,
    ShopQueryAnswers[K],
    QueryDb
  >;
};

/** Where the shop's queries read: the read models (level 2) or the write DB (level 1). */
export type ReadMode = 'read-model' | 'write-db';

/**
 * The shop's query handlers for one read mode; both modes give identical answers. Give them a
 * read-only handle on the read DB (`read-model`) or on the write DB (`write-db`).
 * @example
 *   const queries = queryBus(shopQueryHandlers('read-model'), {
 *     db: { sql: sqliteSql(readStore.readOnly()), fullText: sqliteFullText }, progress: projector });
 */
export function shopQueryHandlers(mode: ReadMode): ShopQueryHandlers {
  if (mode === 'read-model') {
    return {
      ...catalogReadModelQueries,
      SearchProducts: searchReadModelQuery,
      AlsoBought: alsoBoughtReadModel,
      ...ordersReadModelQueries,
      OpenCarts: openCartsReadModel,
    };
  }
  return {
    ...catalogWriteDbQueries,
    SearchProducts: searchWriteDbQuery,
    AlsoBought: alsoBoughtWriteDb,
    ...ordersWriteDbQueries,
    OpenCarts: openCartsWriteDb,
  };
}

/** The shop's projections (catalog, search, orders, carts), for the projector on the read DB. */
export function shopProjections(): Projection<ShopEvent, ProjectionDb>[] {
  return [catalogProjection, searchProjection, ordersProjection, cartsProjection];
}
