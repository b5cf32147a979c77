import type pg from 'pg';
import type { ReadStreamOptions, ReadStreamResult } from '../../core/event-log.js';
import type { Event, RecordedEvent } from '../../core/messages.js';
import { type EventRow, toEvent } from './rows.js';

const STREAM = `SELECT v.version, e.position, e.id, e.stream_id, e.stream_version, e.type, e.data, e.metadata, e.recorded_at
  FROM (SELECT coalesce(max(stream_version), 0) AS version FROM events WHERE stream_id = $1) v
  LEFT JOIN LATERAL (SELECT * FROM events WHERE stream_id = $1 AND stream_version >= $2
                     ORDER BY stream_version LIMIT $3) e ON true`;

/** One stream (or a slice of it) and its version, in one statement on `client`. */
export async function readStreamWith<E extends Event>(
  client: pg.ClientBase | pg.Pool,
  streamId: string,
  options: ReadStreamOptions = {},
): Promise<ReadStreamResult<E>> {
  // Unnamed: planned at each call (see stream-reader.ts).
  const { rows } = await client.query<EventRow & { version: string; position: string | null }>({
    text: STREAM,
    values: [streamId, (options.fromVersion ?? 1n).toString(), options.maxCount ?? null],
  });
  const streamVersion = BigInt(rows[0]!.version);
  const events = rows.filter((r) => r.position !== null).map(toEvent);
  return {
    events: events as unknown as RecordedEvent<E>[],
    streamVersion,
    streamExists: streamVersion > 0n,
  };
}
