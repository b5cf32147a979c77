import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { BoundedMap } from '../core/bounded-map.js';
import { coreError } from '../core/errors.js';
import { ADMIN } from '../shop/commands.js';

export interface Caller {
  /** `'admin'` or a customer id. */
  readonly actor: string;
  readonly isAdmin: boolean;
}

export interface AuthDeps {
  readonly adminToken: string;
  /** Finds a customer by the SHA-256 (hex) of their bearer token. */
  customerByTokenHash(hash: string): Promise<{ customerId: string } | undefined>;
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Remembers the customers `lookup` found (at most `max`, the oldest forgotten first): a token
 * never changes owner and no customer is deleted, so a found one stays right, and an order then
 * costs no query to know who placed it. A token not found is asked again each time (it may
 * belong to a customer registered since).
 */
export function rememberCustomers(
  lookup: AuthDeps['customerByTokenHash'],
  max = 10_000,
): AuthDeps['customerByTokenHash'] {
  const known = new BoundedMap<string, { customerId: string }>(max);
  return async (hash) => {
    const hit = known.get(hash);
    if (hit) return hit;
    const found = await lookup(hash);
    if (found) known.set(hash, { customerId: found.customerId });
    return found;
  };
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** Who is calling: admin, a customer, or nobody (undefined). A token that matches no one is 401. */
export async function callerOf(
  request: FastifyRequest,
  auth: AuthDeps,
): Promise<Caller | undefined> {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw coreError('UNAUTHORIZED', 'Use Authorization: Bearer <token>.');
  const token = match[1];
  if (same(token, auth.adminToken)) return { actor: ADMIN, isAdmin: true };
  const customer = await auth.customerByTokenHash(hashToken(token));
  if (!customer) throw coreError('UNAUTHORIZED', 'This token is not valid.');
  return { actor: customer.customerId, isAdmin: false };
}

export async function requireAdmin(request: FastifyRequest, auth: AuthDeps): Promise<Caller> {
  const caller = await callerOf(request, auth);
  if (!caller) throw coreError('UNAUTHORIZED', 'This route needs the admin token.');
  if (!caller.isAdmin) throw coreError('FORBIDDEN', 'This route is for admins.');
  return caller;
}

export async function requireCustomer(request: FastifyRequest, auth: AuthDeps): Promise<Caller> {
  const caller = await callerOf(request, auth);
  if (!caller) throw coreError('UNAUTHORIZED', 'This route needs a customer token.');
  if (caller.isAdmin) throw coreError('FORBIDDEN', 'This route is for customers.');
  return caller;
}

export async function requireAnyone(request: FastifyRequest, auth: AuthDeps): Promise<Caller> {
  const caller = await callerOf(request, auth);
  if (!caller) throw coreError('UNAUTHORIZED', 'This route needs a token.');
  return caller;
}
