import type pg from 'pg';
import { ConcurrencyConflict } from '../../core/errors.js';
import {
  type AppendOptions,
  type AppendResult,
  type ExpectedVersion,
  eventMetadata,
} from '../../core/event-log.js';
import type { Event, MessageMetadata } from '../../core/messages.js';
import { type Prelude, textArray } from './prelude.js';

/** One append as asked for: events for one stream, with its expected version. */
export interface PendingAppend {
  readonly streamId: string;
  readonly events: readonly Event[];
  readonly options: AppendOptions;
}

const expectedCode = (e: ExpectedVersion | undefined): string => {
  if (e === undefined || e === 'any') return '-1';
  if (e === 'no_stream') return '-2';
  if (e === 'stream_exists') return '-3';
  return e.toString();
};

const APPEND = 'SELECT tworooms_append($1, $2, $3, $4, $5, $6) AS r';
const APPEND_MANY = 'SELECT tworooms_append_many($1, $2, $3, $4, $5, $6, $7) AS r';

/** Runs plain appends in one statement (`tworooms_append_many`); a conflict comes back as its error. */
export async function appendMany(
  client: pg.ClientBase,
  appends: readonly PendingAppend[],
  at: Date,
): Promise<Array<AppendResult | ConcurrencyConflict>> {
  const streams: string[] = [];
  const expected: string[] = [];
  const counts: number[] = [];
  const types: string[] = [];
  const data: string[] = [];
  const metadata: string[] = [];
  for (const append of appends) {
    streams.push(append.streamId);
    expected.push(expectedCode(append.options.expectedVersion));
    counts.push(append.events.length);
    for (const e of append.events) {
      types.push(e.type);
      data.push(JSON.stringify(e.data));
      metadata.push(JSON.stringify(eventMetadata(e, append.options.metadata)));
    }
  }
  const res = await client.query<{ r: string[] }>({
    name: 'tworooms_append_many',
    text: APPEND_MANY,
    values: [streams, expected, counts, types, data, metadata, at],
  });
  const flat = res.rows[0]!.r.map(BigInt);
  return appends.map((append, i) =>
    toAppendResult(append, flat[3 * i]!, flat[3 * i + 1]!, flat[3 * i + 2]!),
  );
}

/**
 * One append (`tworooms_append`): through `prelude` inside a transaction, else in autocommit on
 * `client`. A version conflict is thrown.
 */
export async function appendOne(
  client: pg.ClientBase,
  append: PendingAppend,
  txMetadata: MessageMetadata | undefined,
  at: Date,
  prelude?: Prelude,
): Promise<AppendResult> {
  const { streamId, events, options } = append;
  const shared =
    txMetadata && options.metadata
      ? { ...txMetadata, ...options.metadata }
      : (options.metadata ?? txMetadata);
  const expected = expectedCode(options.expectedVersion);
  const types = events.map((e) => e.type);
  const data = events.map((e) => JSON.stringify(e.data));
  const metadata = events.map((e) => JSON.stringify(eventMetadata(e, shared)));
  const prepared = {
    name: 'tworooms_append',
    text: APPEND,
    values: [streamId, expected, types, data, metadata, at],
  };
  const literal = () =>
    `SELECT tworooms_append(${client.escapeLiteral(streamId)}, ${expected}, ${textArray(client, types)}, ` +
    `${textArray(client, data)}, ${textArray(client, metadata)}, ` +
    `${client.escapeLiteral(at.toISOString())}::timestamptz) AS r`;
  const res = prelude
    ? await prelude.run<{ r: string[] }>(prepared, literal)
    : await client.query<{ r: string[] }>(prepared);
  const [version, first, last] = res.rows[0]!.r.map(BigInt) as [bigint, bigint, bigint];
  const r = toAppendResult(append, version, first, last);
  if (r instanceof ConcurrencyConflict) throw r;
  return r;
}

/** The function's {version, first, last}: a result, or the conflict it reports (first = -1). */
function toAppendResult(
  append: PendingAppend,
  version: bigint,
  first: bigint,
  last: bigint,
): AppendResult | ConcurrencyConflict {
  if (first !== -1n) return { streamVersion: version, firstPosition: first, lastPosition: last };
  const e = append.options.expectedVersion;
  return new ConcurrencyConflict(append.streamId, e === undefined ? 'any' : e.toString(), version);
}
