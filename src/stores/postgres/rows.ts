import type { RecordedEvent } from '../../core/messages.js';

/** An `events` row as node-postgres returns it (int8 as decimal strings). */
export interface EventRow {
  position: string;
  id: string;
  stream_id: string;
  stream_version: string;
  type: string;
  data: string;
  metadata: string;
  recorded_at: Date;
}

/** An `events` row as the log's record. */
export const toEvent = (r: EventRow): RecordedEvent => ({
  position: BigInt(r.position),
  id: r.id,
  streamId: r.stream_id,
  streamVersion: BigInt(r.stream_version),
  type: r.type,
  data: JSON.parse(r.data),
  metadata: JSON.parse(r.metadata),
  recordedAt: r.recorded_at,
});
