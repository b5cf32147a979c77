import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { coreError } from '../../core/errors.js';
import { timeOrderedId } from '../../core/ids.js';
import {
  pageKey,
  pageTags,
  productKey,
  productTags,
  searchKey,
  searchTags,
} from '../../shop/cache-tags.js';
import { requireAdmin } from '../auth.js';
import { cachedCatalogPage } from '../cache-hits.js';
import { commandReply } from '../consistency.js';
import { type AppDeps, answerQuery, cachedQuery } from '../deps.js';
import * as S from '../schemas.js';

const Name = Type.String({ minLength: 1, maxLength: 200 });
const Description = Type.String({ maxLength: 10_000 });
const Url = Type.String({ maxLength: 2000, pattern: '^https?://' });
const Created = Type.Object({ id: Type.String(), position: S.Position });
const PositionOnly = Type.Object({ position: S.Position });
const errors = S.CommandErrors;

export function catalogRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post(
    '/api/categories',
    {
      schema: {
        tags: ['catalog'],
        summary: 'Create a category (admin)',
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 201: Created, ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireAdmin(request, deps.auth);
      const { name } = request.body as { name: string };
      const r = await deps.commands.dispatch(
        { type: 'CreateCategory', data: { categoryId: timeOrderedId(), name } },
        { actor: caller.actor, correlationId: request.id },
      );
      return commandReply(reply, 201, { id: r.id, position: r.position });
    },
  );

  app.get(
    '/api/categories',
    {
      schema: {
        tags: ['catalog'],
        summary: 'All categories with their number of active products',
        querystring: Type.Object(S.ConsistencyQuery, { additionalProperties: false }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({ id: Type.String(), name: Type.String(), productCount: Type.Integer() }),
            ),
          }),
          400: S.ErrorResponse,
        },
      },
    },
    (request, reply) => answerQuery(deps, request, reply, { type: 'ListCategories', data: {} }),
  );

  app.post(
    '/api/products',
    {
      schema: {
        tags: ['catalog'],
        summary: 'Add a product (admin)',
        body: Type.Object(
          {
            sku: Type.String({ minLength: 1, maxLength: 64 }),
            name: Name,
            description: Description,
            categoryId: S.Id,
            priceCents: S.Cents,
            maxAllowedPriceCents: Type.Optional(S.Cents),
            thumbnailUrl: Type.Optional(Url),
          },
          { additionalProperties: false },
        ),
        response: { 201: Created, ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireAdmin(request, deps.auth);
      const body = request.body as Record<string, unknown>;
      const r = await deps.commands.dispatch(
        { type: 'AddProduct', data: { ...(body as object), productId: timeOrderedId() } as never },
        { actor: caller.actor, correlationId: request.id },
      );
      return commandReply(reply, 201, { id: r.id, position: r.position });
    },
  );

  app.put(
    '/api/products/:id/price',
    {
      schema: {
        tags: ['catalog'],
        summary: 'Change a price (admin)',
        params: Type.Object({ id: S.Id }),
        body: Type.Object({ priceCents: S.Cents }, { additionalProperties: false }),
        response: { 200: PositionOnly, ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireAdmin(request, deps.auth);
      const { id } = request.params as { id: string };
      const { priceCents } = request.body as { priceCents: number };
      const r = await deps.commands.dispatch(
        { type: 'UpdateProductPrice', data: { productId: id, priceCents } },
        { actor: caller.actor, correlationId: request.id },
      );
      return commandReply(reply, 200, { position: r.position });
    },
  );

  app.patch(
    '/api/products/:id',
    {
      schema: {
        tags: ['catalog'],
        summary: 'Change details or activation (admin)',
        params: Type.Object({ id: S.Id }),
        body: Type.Object(
          {
            name: Type.Optional(Name),
            description: Type.Optional(Description),
            categoryId: Type.Optional(S.Id),
            thumbnailUrl: Type.Optional(Type.Union([Url, Type.Null()])),
            active: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: PositionOnly, ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireAdmin(request, deps.auth);
      const { id } = request.params as { id: string };
      const r = await deps.commands.dispatch(
        {
          type: 'ChangeProductDetails',
          data: { ...(request.body as object), productId: id } as never,
        },
        { actor: caller.actor, correlationId: request.id },
      );
      return commandReply(reply, 200, { position: r.position });
    },
  );

  app.put(
    '/api/products/:id/stock',
    {
      schema: {
        tags: ['inventory'],
        summary: 'Set the units available in a warehouse (admin)',
        params: Type.Object({ id: S.Id }),
        body: Type.Object(
          {
            warehouse: Type.String({ minLength: 1, maxLength: 64 }),
            quantity: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: PositionOnly, ...errors },
      },
    },
    async (request, reply) => {
      const caller = await requireAdmin(request, deps.auth);
      const { id } = request.params as { id: string };
      const { warehouse, quantity } = request.body as { warehouse: string; quantity: number };
      const r = await deps.commands.dispatch(
        { type: 'SetStockLevel', data: { productId: id, warehouse, quantity } },
        { actor: caller.actor, correlationId: request.id },
      );
      return commandReply(reply, 200, { position: r.position });
    },
  );

  app.get(
    '/api/catalog',
    {
      schema: {
        tags: ['catalog'],
        summary: 'A page of the catalog listing (24 per page)',
        querystring: Type.Object(
          { category: Type.Optional(S.Id), page: S.Page, ...S.ConsistencyQuery },
          { additionalProperties: false },
        ),
        response: { 200: S.ListingPage, 400: S.ErrorResponse, 404: S.ErrorResponse },
      },
      // A page the cache holds is answered before validation, as this handler sent it last.
      preParsing: cachedCatalogPage(deps.reads),
    },
    async (request, reply) => {
      const { category, page } = request.query as { category?: string; page: number };
      const answer = await cachedQuery(
        deps,
        request,
        reply,
        { type: 'CatalogPage', data: { ...(category ? { categoryId: category } : {}), page } },
        { key: pageKey(category, page), tags: (v: never) => pageTags(category, v) },
      );
      // An empty page of a category that does not exist is a wrong address, not an empty shelf.
      if (category && answer.value.total === 0) {
        const { value } = await deps.reads.read({ type: 'ListCategories', data: {} });
        if (!value.items.some((c) => c.id === category)) {
          throw coreError('NOT_FOUND', 'No such category.', { categoryId: category });
        }
      }
      return answer.send();
    },
  );

  app.get(
    '/api/products/:id',
    {
      schema: {
        tags: ['catalog'],
        summary: 'A product document: listing fields, stock, histogram, recent reviews, related',
        params: Type.Object({ id: S.Id }),
        querystring: Type.Object(S.ConsistencyQuery, { additionalProperties: false }),
        response: { 200: S.ProductDetail, 400: S.ErrorResponse, 404: S.ErrorResponse },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const answer = await cachedQuery(
        deps,
        request,
        reply,
        { type: 'ProductDetail', data: { productId: id } },
        { key: productKey(id), tags: (v: never) => productTags(id, v) },
      );
      if (answer.value === null)
        throw coreError('NOT_FOUND', 'No such product.', { productId: id });
      return answer.send();
    },
  );

  app.get(
    '/api/products/:id/also-bought',
    {
      schema: {
        tags: ['catalog'],
        summary:
          'Customers who bought this also bought: up to 4 active products, most common first (level 2: kept by a background job, seconds behind)',
        params: Type.Object({ id: S.Id }),
        querystring: Type.Object(S.ConsistencyQuery, { additionalProperties: false }),
        response: {
          200: Type.Object({ items: Type.Array(S.ListingItem) }),
          400: S.ErrorResponse,
          404: S.ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const value = await answerQuery(deps, request, reply, {
        type: 'AlsoBought',
        data: { productId: id },
      });
      if (value === null) throw coreError('NOT_FOUND', 'No such product.', { productId: id });
      return value;
    },
  );

  app.get(
    '/api/search',
    {
      schema: {
        tags: ['catalog'],
        summary: 'Full-text search over name, description and category; best match first',
        querystring: Type.Object(
          { q: Type.String({ minLength: 1, maxLength: 200 }), page: S.Page, ...S.ConsistencyQuery },
          { additionalProperties: false },
        ),
        response: { 200: S.ListingPage, 400: S.ErrorResponse },
      },
    },
    async (request, reply) => {
      const { q, page } = request.query as { q: string; page: number };
      const answer = await cachedQuery(
        deps,
        request,
        reply,
        { type: 'SearchProducts', data: { q, page } },
        { key: searchKey(q, page), tags: (v: never) => searchTags(v) },
      );
      return answer.send();
    },
  );
}
