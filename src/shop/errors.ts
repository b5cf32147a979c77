import { type ErrorCategory, errorsFrom } from '../core/errors.js';

/** The shop's own error codes (the toolkit's are in core/errors.ts); docs/api.md lists them all. */
export const shopErrorCodes = {
  INVALID_PRICE: { category: 'validation', message: 'A price cannot be negative.' },
  PRICE_EXCEEDS_LIMIT: {
    category: 'unprocessable',
    message: "The price is above the product's maximum allowed price.",
  },
  OUT_OF_STOCK: { category: 'conflict', message: 'Not enough stock for some lines.' },
  SKU_TAKEN: { category: 'conflict', message: 'Another product already has this SKU.' },
  EMAIL_TAKEN: {
    category: 'conflict',
    message: 'A customer with this email is already registered.',
  },
  PRODUCT_INACTIVE: { category: 'unprocessable', message: 'This product is not for sale.' },
  ORDER_NOT_CANCELLABLE: {
    category: 'conflict',
    message: 'This order can no longer be cancelled.',
  },
  CART_CLOSED: { category: 'conflict', message: 'This cart has been checked out.' },
  CART_EMPTY: { category: 'unprocessable', message: 'An empty cart cannot be checked out.' },
} as const satisfies Record<string, { category: ErrorCategory; message: string }>;

export type ShopErrorCode = keyof typeof shopErrorCodes;

/** Builds a shop error from its code, with the catalogue's category and message. */
export const shopError = errorsFrom(shopErrorCodes);
