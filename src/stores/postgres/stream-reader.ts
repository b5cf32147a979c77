import type pg from 'pg';
import type { ReadStreamResult } from '../../core/event-log.js';
import type { Event, RecordedEvent } from '../../core/messages.js';
import { type EventRow, toEvent } from './rows.js';

const MANY = `SELECT s.stream_id AS requested, v.version, e.position, e.id, e.stream_id, e.stream_version,
       e.type, e.data, e.metadata, e.recorded_at
  FROM unnest($1::text[]) AS s(stream_id)
  CROSS JOIN LATERAL (SELECT coalesce(max(stream_version), 0) AS version
                        FROM events WHERE stream_id = s.stream_id) v
  LEFT JOIN LATERAL (SELECT * FROM events WHERE stream_id = s.stream_id
                      ORDER BY stream_version) e ON true`;

type Row = EventRow & { requested: string; version: string; position: string | null };

interface Waiting {
  readonly streamId: string;
  readonly resolve: (r: ReadStreamResult) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Whole-stream reads, batched: reads asked for while one query runs are answered together by
 * the next (one snapshot, one round trip), so 50 commands loading their streams at once cost a
 * few queries instead of queueing 50 on the pool.
 */
export class StreamReader {
  private waiting: Waiting[] = [];
  private running = false;

  constructor(private readonly pool: pg.Pool) {}

  read<E extends Event>(streamId: string): Promise<ReadStreamResult<E>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ streamId, resolve: resolve as Waiting['resolve'], reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting;
        this.waiting = [];
        const streams = [...new Set(batch.map((w) => w.streamId))];
        try {
          const { rows } = await this.pool.query<Row>({
            name: 'tworooms_read_streams',
            text: MANY,
            values: [streams],
          });
          const byStream = new Map<string, { version: bigint; events: RecordedEvent[] }>();
          for (const r of rows) {
            let entry = byStream.get(r.requested);
            if (!entry) {
              entry = { version: BigInt(r.version), events: [] };
              byStream.set(r.requested, entry);
            }
            if (r.position !== null) entry.events.push(toEvent(r));
          }
          const given = new Set<string>();
          for (const w of batch) {
            const entry = byStream.get(w.streamId)!;
            // Each caller gets its own objects (events are stored by value): copies for a
            // stream asked for twice.
            const events = given.has(w.streamId)
              ? entry.events.map((e) => structuredClone(e))
              : entry.events;
            given.add(w.streamId);
            w.resolve({
              events,
              streamVersion: entry.version,
              streamExists: entry.version > 0n,
            });
          }
        } catch (error) {
          for (const w of batch) w.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
