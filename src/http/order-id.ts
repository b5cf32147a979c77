/**
 * The idempotency key an order route stores for a client's `Idempotency-Key`: scoped to its
 * customer, so two customers may pick the same key without meeting, and to its route, so a key
 * used for `POST /api/orders` never answers a checkout. The order's id is not derived from the
 * key: the handler names each new order with a time-ordered id, and a replay of the key answers
 * the first result, that id included.
 */
export const orderKey = (namespace: 'order' | 'checkout', customerId: string, key: string) =>
  `${customerId}:${namespace}:${key}`;
