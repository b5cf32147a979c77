import type { EventLogReader } from '../../core/event-log.js';
import { encodeEvent, eventHeaders, eventSubject } from './event-message.js';
import { publishInOrder } from './ordered-publish.js';
import { connectNats, ensureEventStream, type NatsTarget, resolveTarget } from './stream.js';

export interface ReplayOptions extends NatsTarget {
  readonly log: Pick<EventLogReader, 'readAll' | 'headPosition'>;
  /** First position to republish (inclusive). */
  readonly from: bigint;
  /** Last position (inclusive); default: the log head when the replay starts. */
  readonly to?: bigint;
  /** Only these event types. */
  readonly types?: readonly string[];
  /**
   * Part of every message id (`replay:<label>:<event id>`, default label `replay`): running the
   * same replay again within the duplicate window publishes nothing twice; a new label delivers
   * the range again on purpose.
   */
  readonly label?: string;
  readonly batchSize?: number;
  /** Positions covered so far out of the range's width (for a progress bar). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ReplayResult {
  readonly from: bigint;
  readonly to: bigint;
  /** Messages JetStream stored. */
  readonly published: number;
  /** Messages JetStream dropped as repeats of an earlier replay with the same label. */
  readonly duplicates: number;
}

/** The message id of a replayed event: stable per label, distinct from the relay's (the event id). */
export const replayMsgId = (label: string, eventId: string) => `replay:${label}:${eventId}`;

/**
 * Republishes a range of the archive to the event stream, on the relay's subjects, in position
 * order, each message marked with the `Tworooms-Replay` header. Throws `NatsUnreachable` when
 * NATS does not answer.
 */
export async function replayToNats(options: ReplayOptions): Promise<ReplayResult> {
  const { stream, prefix } = resolveTarget(options);
  const label = options.label ?? 'replay';
  if (!/^[\w-]+$/.test(label)) throw new Error('a replay label holds letters, digits, - and _');
  const to = options.to ?? (await options.log.headPosition());
  const from = options.from < 1n ? 1n : options.from;
  const nc = await connectNats(options.servers, 'tworooms-replay');
  try {
    const jsm = await nc.jetstreamManager({ timeout: 5000 });
    await ensureEventStream(jsm, stream, prefix);
    const js = nc.jetstream({ timeout: 10_000 });
    const total = to >= from ? Number(to - from + 1n) : 0;
    let after = from - 1n;
    let published = 0;
    let duplicates = 0;
    options.onProgress?.(0, total);
    while (after < to) {
      const { events, coveredTo } = await options.log.readAll({
        after,
        limit: options.batchSize ?? 500,
        ...(options.types ? { types: options.types } : {}),
      });
      const inRange = events.filter((e) => e.position <= to);
      // Retried a few times (a lost ack, a concurrent relay breaking the chain), then it fails.
      let done = 0;
      for (let attempt = 1; done < inRange.length; attempt++) {
        try {
          await publishInOrder(
            js,
            inRange.slice(done).map((e) => ({
              subject: eventSubject(prefix, e.type),
              data: encodeEvent(e),
              msgId: replayMsgId(label, e.id),
              headers: eventHeaders(e, label),
            })),
            (_i, ack) => {
              done++;
              if (ack.duplicate) duplicates++;
              else published++;
            },
          );
        } catch (error) {
          if (attempt >= 5) throw error;
        }
      }
      if (coveredTo <= after) break; // the log ends before `to`
      after = coveredTo;
      if (after > to) after = to; // bigints: no Math.min
      options.onProgress?.(Number(after - from + 1n), total);
    }
    return { from, to, published, duplicates };
  } finally {
    await nc.close();
  }
}
