import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { EventLogReader } from '../core/event-log.js';
import type { CommandMetadata, Query } from '../core/messages.js';
import type { ProjectionStatus } from '../core/projector.js';
import type { ShopCommand } from '../shop/commands.js';
import type { ShopQueryAnswers } from '../shop/queries.js';
import type { ReadOptions, ShopReads } from '../shop/reads.js';
import type { AuthDeps } from './auth.js';
import { sendCached } from './cache-hits.js';
import { consistencyOf, queryHeaders } from './consistency.js';

/** What the HTTP layer needs from the composition root. */
export interface AppDeps {
  readonly readMode: 'read-model' | 'write-db';
  readonly commands: {
    // biome-ignore lint/suspicious/noExplicitAny: results are typed per route
    dispatch(command: ShopCommand, metadata: CommandMetadata): Promise<any>;
  };
  readonly reads: ShopReads;
  /** The event log, read directly where the write model is the answer (a cart is its stream). */
  readonly log: EventLogReader;
  readonly auth: AuthDeps;
  readonly projections?: {
    status(): Promise<ProjectionStatus[]>;
    /** Starts a rebuild (blue/green where the projection and store allow); resolves when done. */
    rebuild(name: string): Promise<void>;
    /** Resumes a failed projection with fresh attempts on its failing event. */
    retry(name: string): Promise<void>;
    /** Resumes a failed projection past its failing event at `position` (recorded). */
    skip(name: string, position: bigint): Promise<unknown>;
    /** Why `name` does not run here, when this process knows better than "no such projection". */
    notHere?(name: string): string | undefined;
  };
  readonly metrics: Registry;
  /** Told about every answered request (for the HTTP latency metric). */
  readonly onResponse?: (method: string, route: string, status: number, seconds: number) => void;
  /** Default wait for a consistency token in ms (2000). */
  readonly defaultWaitMs?: number;
  /** Requests per minute per client address; 0 or absent: no limit. */
  readonly rateLimitPerMinute?: number;
  readonly logger?: boolean | Record<string, unknown>;
}

/** Runs a query with the request's consistency parameters and sets the read-model headers. */
export async function answerQuery<K extends keyof ShopQueryAnswers>(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  query: Query<K & string>,
  cache?: ReadOptions['cache'],
): Promise<ShopQueryAnswers[K]> {
  return (await readQuery(deps, request, reply, query, cache)).value;
}

/**
 * `answerQuery` for the cached routes: `send()` answers a cache hit with the bytes that answer
 * was first serialized to (its response schema's serializer, run once per cached object), so a
 * hot page costs no serialization; anything else is returned for Fastify to serialize.
 * @example
 *   const answer = await cachedQuery(deps, request, reply, query, { key, tags });
 *   return answer.send();
 */
export async function cachedQuery<K extends keyof ShopQueryAnswers>(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  query: Query<K & string>,
  cache: NonNullable<ReadOptions['cache']>,
): Promise<{ readonly value: ShopQueryAnswers[K]; send(): unknown }> {
  const { value, source } = await readQuery(deps, request, reply, query, cache);
  return {
    value,
    send() {
      if (source !== 'cache' || typeof value !== 'object' || value === null) return value;
      return sendCached(reply, value);
    },
  };
}

async function readQuery<K extends keyof ShopQueryAnswers>(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  query: Query<K & string>,
  cache?: ReadOptions['cache'],
) {
  const c = consistencyOf(
    request.headers,
    request.query as { after?: string; wait?: number; fallback?: string },
    deps.defaultWaitMs ?? 2000,
  );
  const answer = await deps.reads.read<K>(query, {
    ...(c.after === undefined ? {} : { after: c.after }),
    ...(c.waitMs === undefined ? {} : { waitMs: c.waitMs }),
    fallback: c.fallback,
    ...(cache ? { cache } : {}),
  });
  queryHeaders(reply, answer.position, answer.stale);
  void reply.header('X-Read-Source', answer.source);
  return answer;
}
