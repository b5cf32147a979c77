import type pg from 'pg';
import type { ReadStreamResult } from '../../core/event-log.js';
import type { Event, RecordedEvent } from '../../core/messages.js';
import { type EventRow, toEvent } from './rows.js';

// Whole streams: a stream's version is its last event's (the events are read in one snapshot).
// Unnamed statements, so planned at each call: a prepared statement's generic plan, made while
// `events` was small, is a sequential scan that it keeps until the table is next analyzed.
const COLUMNS = 'position, id, stream_id, stream_version, type, data, metadata, recorded_at';
const ONE = `SELECT ${COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version`;
const MANY = `SELECT ${COLUMNS} FROM events WHERE stream_id = ANY ($1::text[])
  ORDER BY stream_id, stream_version`;

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
          const { rows } = await this.pool.query<EventRow>(
            streams.length === 1
              ? { text: ONE, values: streams }
              : { text: MANY, values: [streams] },
          );
          const byStream = new Map<string, { version: bigint; events: RecordedEvent[] }>();
          for (const s of streams) byStream.set(s, { version: 0n, events: [] });
          for (const r of rows) {
            const entry = byStream.get(r.stream_id)!;
            const event = toEvent(r);
            entry.events.push(event);
            entry.version = event.streamVersion;
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
