import type { CommandContext } from '../../core/command-bus.js';
import { coreError } from '../../core/errors.js';
import type { FullTextIndex } from '../../core/full-text.js';
import type { Sql } from '../../core/sql.js';
import type { WriteTx } from '../../core/write-store.js';
import type {
  AddProduct,
  ChangeProductDetails,
  CreateCategory,
  ShopCommandResults,
  UpdateProductPrice,
} from '../commands.js';
import { shopError } from '../errors.js';
import {
  type CategoryCreated,
  type ProductActivated,
  type ProductAdded,
  type ProductDeactivated,
  type ProductDetailsChanged,
  type ProductPriceUpdated,
  streams,
} from '../events.js';
import { ID_MAX, invalid, text, timeOf } from '../validate.js';

/** The write DB's full-text index of active products, read by level-1 search. */
export const PRODUCTS_FTS = 'products_fts';

const NAME_MAX = 200;
const SKU_MAX = 100;
const URL_MAX = 2000;

function plainString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string.`, field);
  return value;
}

/** Whole cents, never negative (INVALID_PRICE). */
function price(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw invalid(`${field} must be a whole number of cents.`, field);
  }
  if (value < 0) throw shopError('INVALID_PRICE', undefined, { [field]: value });
  return value;
}

function withinLimit(priceCents: number, maxAllowedPriceCents: number | null): void {
  if (maxAllowedPriceCents !== null && priceCents > maxAllowedPriceCents) {
    throw shopError('PRICE_EXCEEDS_LIMIT', undefined, { priceCents, maxAllowedPriceCents });
  }
}

async function categoryName(sql: Sql, categoryId: string): Promise<string> {
  const row = await sql.get<{ name: string }>('SELECT name FROM categories WHERE id = ?', [
    categoryId,
  ]);
  if (!row) throw coreError('NOT_FOUND', 'No such category.', { categoryId });
  return row.name;
}

interface ProductRow {
  name: string;
  description: string;
  category_id: string;
  price_cents: number | string;
  max_allowed_price_cents: number | string | null;
  thumbnail_url: string | null;
  active: number | string;
}

async function productRow(sql: Sql, productId: string): Promise<ProductRow> {
  const row = await sql.get<ProductRow>(
    `SELECT name, description, category_id, price_cents, max_allowed_price_cents, thumbnail_url, active
       FROM products WHERE id = ?`,
    [productId],
  );
  if (!row) throw coreError('NOT_FOUND', 'No such product.', { productId });
  return row;
}

/** BIGINT columns come back as strings from some drivers (pg): read them as numbers. */
const num = (v: number | string) => Number(v);

/**
 * The catalog's command handlers (categories and products), each to run inside a write
 * transaction (see `shopCommandHandlers`). They keep the `products_fts` index current in the
 * same transaction: every active product, by name, description and category name.
 */
export function catalogHandlers(fullText: FullTextIndex) {
  const CreateCategory = async (
    command: CreateCategory,
    tx: WriteTx<Sql>,
    context: CommandContext,
  ): Promise<ShopCommandResults['CreateCategory']> => {
    const categoryId = text(command.data.categoryId, 'categoryId', 1, ID_MAX);
    const name = text(command.data.name, 'name', 1, NAME_MAX);
    const { ms, at } = timeOf(context);
    if (await tx.db.get('SELECT 1 AS found FROM categories WHERE id = ?', [categoryId])) {
      throw invalid('A category with this id already exists.', 'categoryId');
    }
    await tx.db.run('INSERT INTO categories (id, name, created_at) VALUES (?, ?, ?)', [
      categoryId,
      name,
      ms,
    ]);
    const event: CategoryCreated = {
      type: 'CategoryCreated',
      data: { v: 1, categoryId, name, at },
    };
    await tx.record(streams.category(categoryId), [event], { expectedVersion: 'no_stream' });
    return { id: categoryId };
  };

  const AddProduct = async (
    command: AddProduct,
    tx: WriteTx<Sql>,
    context: CommandContext,
  ): Promise<ShopCommandResults['AddProduct']> => {
    const d = command.data;
    const productId = text(d.productId, 'productId', 1, ID_MAX);
    const sku = text(d.sku, 'sku', 1, SKU_MAX);
    const name = text(d.name, 'name', 1, NAME_MAX);
    const description = plainString(d.description, 'description');
    const categoryId = text(d.categoryId, 'categoryId', 1, ID_MAX);
    const priceCents = price(d.priceCents, 'priceCents');
    const maxAllowedPriceCents =
      d.maxAllowedPriceCents === undefined
        ? null
        : price(d.maxAllowedPriceCents, 'maxAllowedPriceCents');
    const thumbnailUrl =
      d.thumbnailUrl === undefined ? null : text(d.thumbnailUrl, 'thumbnailUrl', 1, URL_MAX);
    withinLimit(priceCents, maxAllowedPriceCents);
    const { ms, at } = timeOf(context);

    const category = await categoryName(tx.db, categoryId);
    if (await tx.db.get('SELECT 1 AS found FROM products WHERE id = ?', [productId])) {
      throw invalid('A product with this id already exists.', 'productId');
    }
    // ON CONFLICT on the unique sku: a racing duplicate is refused the same way on every store.
    const { changes } = await tx.db.run(
      `INSERT INTO products (id, sku, name, description, category_id, price_cents,
         max_allowed_price_cents, thumbnail_url, active, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
       ON CONFLICT (sku) DO NOTHING`,
      [
        productId,
        sku,
        name,
        description,
        categoryId,
        priceCents,
        maxAllowedPriceCents,
        thumbnailUrl,
        ms,
        ms,
      ],
    );
    if (changes === 0) throw shopError('SKU_TAKEN', undefined, { sku });
    await fullText.upsert(tx.db, PRODUCTS_FTS, {
      id: productId,
      title: name,
      body: description,
      extra: category,
    });
    const event: ProductAdded = {
      type: 'ProductAdded',
      data: {
        v: 1,
        productId,
        sku,
        name,
        description,
        categoryId,
        priceCents,
        maxAllowedPriceCents,
        thumbnailUrl,
        at,
      },
    };
    await tx.record(streams.product(productId), [event], { expectedVersion: 'no_stream' });
    return { id: productId };
  };

  const UpdateProductPrice = async (
    command: UpdateProductPrice,
    tx: WriteTx<Sql>,
    context: CommandContext,
  ): Promise<ShopCommandResults['UpdateProductPrice']> => {
    const productId = text(command.data.productId, 'productId', 1, ID_MAX);
    const priceCents = price(command.data.priceCents, 'priceCents');
    const row = await productRow(tx.db, productId);
    const max = row.max_allowed_price_cents === null ? null : num(row.max_allowed_price_cents);
    withinLimit(priceCents, max);
    const previousPriceCents = num(row.price_cents);
    if (priceCents === previousPriceCents) return {};
    const { ms, at } = timeOf(context);
    await tx.db.run('UPDATE products SET price_cents = ?, updated_at = ? WHERE id = ?', [
      priceCents,
      ms,
      productId,
    ]);
    const event: ProductPriceUpdated = {
      type: 'ProductPriceUpdated',
      data: { v: 1, productId, priceCents, previousPriceCents, at },
    };
    await tx.record(streams.product(productId), [event]);
    return {};
  };

  const ChangeProductDetails = async (
    command: ChangeProductDetails,
    tx: WriteTx<Sql>,
    context: CommandContext,
  ): Promise<ShopCommandResults['ChangeProductDetails']> => {
    const d = command.data;
    const productId = text(d.productId, 'productId', 1, ID_MAX);
    const name = d.name === undefined ? undefined : text(d.name, 'name', 1, NAME_MAX);
    const description =
      d.description === undefined ? undefined : plainString(d.description, 'description');
    const categoryId =
      d.categoryId === undefined ? undefined : text(d.categoryId, 'categoryId', 1, ID_MAX);
    const thumbnailUrl =
      d.thumbnailUrl === undefined || d.thumbnailUrl === null
        ? d.thumbnailUrl
        : text(d.thumbnailUrl, 'thumbnailUrl', 1, URL_MAX);
    if (d.active !== undefined && typeof d.active !== 'boolean') {
      throw invalid('active must be a boolean.', 'active');
    }
    const row = await productRow(tx.db, productId);
    const newCategoryName =
      categoryId !== undefined && categoryId !== row.category_id
        ? await categoryName(tx.db, categoryId)
        : undefined;

    // Only what actually changes goes into the event.
    const changed: {
      name?: string;
      description?: string;
      categoryId?: string;
      previousCategoryId?: string;
      thumbnailUrl?: string | null;
    } = {};
    if (name !== undefined && name !== row.name) changed.name = name;
    if (description !== undefined && description !== row.description) {
      changed.description = description;
    }
    if (categoryId !== undefined && newCategoryName !== undefined) {
      changed.categoryId = categoryId;
      changed.previousCategoryId = row.category_id;
    }
    if (thumbnailUrl !== undefined && thumbnailUrl !== row.thumbnail_url) {
      changed.thumbnailUrl = thumbnailUrl;
    }
    const wasActive = num(row.active) === 1;
    const activeChanged = d.active !== undefined && d.active !== wasActive;
    if (Object.keys(changed).length === 0 && !activeChanged) return {};

    const { ms, at } = timeOf(context);
    const next = {
      name: changed.name ?? row.name,
      description: changed.description ?? row.description,
      categoryId: changed.categoryId ?? row.category_id,
      thumbnailUrl: changed.thumbnailUrl === undefined ? row.thumbnail_url : changed.thumbnailUrl,
      active: activeChanged ? (d.active ? 1 : 0) : num(row.active),
    };
    await tx.db.run(
      `UPDATE products SET name = ?, description = ?, category_id = ?, thumbnail_url = ?,
         active = ?, updated_at = ? WHERE id = ?`,
      [next.name, next.description, next.categoryId, next.thumbnailUrl, next.active, ms, productId],
    );
    // The index holds active products only (as the read DB's `search` does): level-1 search
    // takes its ranking and its total from it.
    const searchable =
      changed.name !== undefined ||
      changed.description !== undefined ||
      changed.categoryId !== undefined;
    if (next.active === 1 && (searchable || activeChanged)) {
      await fullText.upsert(tx.db, PRODUCTS_FTS, {
        id: productId,
        title: next.name,
        body: next.description,
        extra: newCategoryName ?? (await categoryName(tx.db, row.category_id)),
      });
    } else if (activeChanged) {
      await fullText.remove(tx.db, PRODUCTS_FTS, productId);
    }
    const events: (ProductDetailsChanged | ProductActivated | ProductDeactivated)[] = [];
    if (Object.keys(changed).length > 0) {
      events.push({ type: 'ProductDetailsChanged', data: { v: 1, productId, ...changed, at } });
    }
    if (activeChanged) {
      events.push(
        d.active
          ? { type: 'ProductActivated', data: { v: 1, productId, at } }
          : { type: 'ProductDeactivated', data: { v: 1, productId, at } },
      );
    }
    await tx.record(streams.product(productId), events);
    return {};
  };

  return { CreateCategory, AddProduct, UpdateProductPrice, ChangeProductDetails };
}
