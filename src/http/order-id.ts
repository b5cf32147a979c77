import { createHash } from 'node:crypto';

/**
 * The order id an Idempotency-Key stands for: the same customer and key always name the same
 * order, so a replay carries the same command data (and fingerprint); a fresh random id per
 * request would make every replay look like another request (IDEMPOTENCY_KEY_REUSED). Each
 * route has its own namespace, so a key used for `POST /api/orders` and for a checkout never
 * names the same order. Shaped as a UUID (version 8: custom).
 */
function orderIdForKey(namespace: 'order' | 'checkout', customerId: string, key: string): string {
  const h = createHash('sha256').update(`${customerId}\0${namespace}\0${key}`).digest('hex');
  const variant = ((Number.parseInt(h.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** What a keyed order command carries: the key's order id, and the key scoped to its customer. */
export const keyedOrder = (namespace: 'order' | 'checkout', customerId: string, key: string) => ({
  orderId: orderIdForKey(namespace, customerId, key),
  // Keys are per customer: two customers may pick the same key without meeting.
  idempotencyKey: `${customerId}:${namespace}:${key}`,
});
