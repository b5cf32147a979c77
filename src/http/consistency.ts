import type { FastifyReply } from 'fastify';
import { coreError } from '../core/errors.js';

export const MAX_WAIT_MS = 10_000;

export interface ConsistencyParams {
  after?: bigint;
  waitMs?: number;
  fallback: boolean;
}

const DECIMAL = /^\d{1,19}$/;

/** Reads the consistency token (header or `?after=`), `?wait=` and `?fallback=write-db`. */
export function consistencyOf(
  headers: Record<string, string | string[] | undefined>,
  query: { after?: string; wait?: number; fallback?: string },
  defaultWaitMs: number,
): ConsistencyParams {
  const raw = query.after ?? headers['x-consistency-token'];
  const token = Array.isArray(raw) ? raw[0] : raw;
  if (token !== undefined && !DECIMAL.test(token)) {
    throw coreError('VALIDATION_FAILED', 'The consistency token must be a decimal position.', {
      token,
    });
  }
  return {
    ...(token === undefined ? {} : { after: BigInt(token) }),
    waitMs: Math.min(query.wait ?? defaultWaitMs, MAX_WAIT_MS),
    fallback: query.fallback === 'write-db',
  };
}

/** Every successful command answers its position in the body and in `X-Consistency-Token`. */
export function commandReply(
  reply: FastifyReply,
  status: number,
  body: Record<string, unknown> & { position: bigint },
) {
  const position = body.position.toString();
  return reply
    .code(status)
    .header('X-Consistency-Token', position)
    .send({ ...body, position });
}

/** Every query answers `X-Read-Model-Position`, and `X-Read-Model-Stale: true` when it gave up waiting. */
export function queryHeaders(
  reply: FastifyReply,
  position: bigint | undefined,
  stale: boolean,
): void {
  void reply.header('X-Read-Model-Position', (position ?? 0n).toString());
  if (stale) void reply.header('X-Read-Model-Stale', 'true');
}
