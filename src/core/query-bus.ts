import { type ProgressSource, waitFor } from './consistency.js';
import { coreError } from './errors.js';
import type { Query } from './messages.js';

/**
 * A query handler: the read models it depends on, and a function of the query and a
 * read-only handle (a store connection opened read-only: writing through it fails).
 */
export interface QueryHandler<Q extends Query, R, H> {
  /** Projections whose position this query must wait for; empty for write-DB (level 1) queries. */
  readonly projections: readonly string[];
  handle(query: Q, db: H): Promise<R> | R;
}

export interface QueryOptions {
  /** A consistency token: wait until the query's read models have processed this position. */
  readonly after?: bigint;
  /** How long to wait for `after` (default: the bus's `defaultWaitMs`). */
  readonly waitMs?: number;
  /**
   * Runs after the consistency wait, right before the handler reads: where a cache takes its
   * ticket, so the invalidations of the changes waited for (they came before) do not refuse it.
   */
  readonly beforeRead?: () => unknown;
}

export interface QueryAnswer<R> {
  readonly value: R;
  /** True when `after` was not reached in time: the answer may predate the caller's write. */
  readonly stale: boolean;
  /** The lowest position among the query's projections when it ran (undefined without any). */
  readonly position: bigint | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: a handler map holds handlers of many query types
type AnyQueryHandler<H> = QueryHandler<any, any, H>;

type QueryOf<X> = X extends { handle(query: infer Q, db: never): unknown } ? Q : never;
type AnswerOf<X> = X extends { handle(query: never, db: never): infer R } ? Awaited<R> : never;

export interface QueryBus<M extends Readonly<Record<string, AnyQueryHandler<H>>>, H> {
  ask<Q extends { [K in keyof M]: QueryOf<M[K]> }[keyof M]>(
    query: Q,
    options?: QueryOptions,
  ): Promise<QueryAnswer<AnswerOf<M[Q['type']]>>>;
  handles(type: string): boolean;
}

export interface QueryBusOptions<H> {
  /** The read-only handle given to every handler. */
  readonly db: H;
  /** Where projection positions come from (the projector), for consistency waits. */
  readonly progress?: ProgressSource;
  /** Default wait for a consistency token, in ms (default 2000). */
  readonly defaultWaitMs?: number;
}

/**
 * A typed query bus. Each handler gets the same read-only handle; a query with `after` waits (up
 * to a bound) for its projections to reach that position, then answers, marked stale if they did not.
 * @example
 *   const queries = queryBus({ CatalogPage: catalogPage }, { db: readOnlyDb, progress: projector });
 *   const { value, stale } = await queries.ask({ type: 'CatalogPage', data: { page: 1 } }, { after: position });
 */
export function queryBus<H, M extends Readonly<Record<string, AnyQueryHandler<H>>>>(
  handlers: M,
  options: QueryBusOptions<H>,
): QueryBus<M, H> {
  const defaultWaitMs = options.defaultWaitMs ?? 2000;
  const { progress } = options;
  const lowest = (names: readonly string[]) => {
    let min: bigint | undefined;
    for (const n of names) {
      const p = progress?.positionOf(n);
      if (p !== undefined && (min === undefined || p < min)) min = p;
    }
    return min;
  };
  return {
    handles: (type) => Object.hasOwn(handlers, type),
    async ask(query, queryOptions = {}) {
      const handler = handlers[query.type] as AnyQueryHandler<H> | undefined;
      if (!handler) throw coreError('UNKNOWN_QUERY', `No handler for query ${query.type}.`);
      let stale = false;
      if (queryOptions.after !== undefined && handler.projections.length > 0 && progress) {
        const outcome = await waitFor(
          progress,
          queryOptions.after,
          handler.projections,
          queryOptions.waitMs ?? defaultWaitMs,
        );
        stale = !outcome.reached;
      }
      if (queryOptions.beforeRead) await queryOptions.beforeRead();
      const position = lowest(handler.projections);
      const value = await handler.handle(query, options.db);
      return { value, stale, position };
    },
  };
}
