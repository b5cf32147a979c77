import { type ConsumerMessages, DeliverPolicy, type NatsConnection } from 'nats';
import type { RecordedEvent } from '../../core/messages.js';
import { decodeEvent, eventSubject } from './event-message.js';
import { connectNats, ensureEventStream, type NatsTarget, resolveTarget } from './stream.js';

export interface EventSubscriptionOptions extends NatsTarget {
  /** Called with each batch of events, in stream order, one call at a time. */
  readonly onEvents: (events: readonly RecordedEvent[]) => Promise<void> | void;
  /** Only these event types (default: all). */
  readonly types?: readonly string[];
  /** Called once the consumer exists: every event published from now on will be delivered. */
  readonly onSubscribed?: () => Promise<void> | void;
  /** Told about failures (a callback that threw, NATS unreachable at start); the feed goes on. */
  readonly onError?: (error: Error) => void;
}

export interface EventSubscription {
  /** Resolves once subscribed (after `onSubscribed` ran). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Follows the event stream from "now" with an ordered, ephemeral consumer (nothing to clean up
 * on the server, no acks), and hands the events to `onEvents` in batches: whatever arrived while
 * the previous call ran. Survives NATS outages: the client reconnects forever and the ordered
 * consumer resumes after the last message it delivered, so nothing published meanwhile is lost.
 */
export function natsEventSubscription(options: EventSubscriptionOptions): EventSubscription {
  const { stream, prefix } = resolveTarget(options);
  let nc: NatsConnection | undefined;
  let messages: ConsumerMessages | undefined;
  let closed = false;
  const buffer: RecordedEvent[] = [];
  let draining: Promise<void> | undefined;
  const report = (error: unknown) =>
    options.onError?.(error instanceof Error ? error : new Error(String(error)));

  const drain = async () => {
    while (buffer.length > 0 && !closed) {
      const batch = buffer.splice(0);
      try {
        await options.onEvents(batch);
      } catch (error) {
        report(error);
      }
    }
    draining = undefined;
  };

  const ready = (async () => {
    let backoff = 200;
    const filterSubjects = options.types?.map((t) => eventSubject(prefix, t));
    // Connect and create the consumer, retrying with back-off until it works or `close`.
    while (!closed) {
      try {
        nc ??= await connectNats(options.servers, 'tworooms-subscriber');
        await ensureEventStream(await nc.jetstreamManager(), stream, prefix);
        const consumer = await nc.jetstream().consumers.get(stream, {
          deliver_policy: DeliverPolicy.New,
          ...(filterSubjects ? { filterSubjects } : {}),
        });
        messages = await consumer.consume();
        break;
      } catch (error) {
        if (closed) break;
        report(error);
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
    if (closed || !messages) {
      messages?.stop();
      if (nc && !nc.isClosed()) await nc.close();
      return;
    }
    await options.onSubscribed?.();
    void (async () => {
      for await (const m of messages) {
        try {
          buffer.push(decodeEvent(m.data));
        } catch (error) {
          report(error);
        }
        draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(drain);
      }
    })().catch(report);
  })();
  ready.catch(report);

  return {
    ready,
    async close() {
      closed = true;
      await ready.catch(() => undefined);
      messages?.stop();
      await draining;
      if (nc && !nc.isClosed()) await nc.close();
    },
  };
}
