import type { JetStreamClient, KV, NatsConnection } from 'nats';
import type { EventLog } from '../../core/event-log.js';
import type { RecordedEvent } from '../../core/messages.js';
import { encodeEvent, eventHeaders, eventSubject, HEADER } from './event-message.js';
import { publishInOrder } from './ordered-publish.js';
import {
  connectNats,
  DEFAULT_DUPLICATE_WINDOW_MS,
  ensureEventStream,
  type NatsTarget,
  resolveTarget,
} from './stream.js';

export interface NatsRelayOptions extends NatsTarget {
  /** The log to publish: its `readAll` in position order and its `onAppended` wake-up. */
  readonly log: Pick<EventLog, 'readAll' | 'onAppended'>;
  /** Events read per batch; the checkpoint is committed after each batch (default 500). */
  readonly batchSize?: number;
  /**
   * Look at the log this often even without an `onAppended` signal (default 1000 ms): the signal
   * only covers appends this process can see (SQLite: its own; PostgreSQL: LISTEN/NOTIFY).
   */
  readonly idlePollMs?: number;
  /** JetStream's duplicate window set on the stream (default 2 minutes). */
  readonly duplicateWindowMs?: number;
  /** Messages in flight at once, chained so they stay in order (default 64; 1: one at a time). */
  readonly window?: number;
  /** How long to wait for a publish acknowledgement before retrying it (default 5 s). */
  readonly ackTimeoutMs?: number;
  /** Told about each failure (NATS down, …); the relay itself retries forever. */
  readonly onError?: (error: Error) => void;
}

export interface RelayStatus {
  /** Every event up to here is acknowledged by JetStream. */
  readonly position: bigint;
  readonly connected: boolean;
  readonly published: number;
  readonly duplicates: number;
  readonly lastError: string | undefined;
}

const CHECKPOINT_KEY = 'position';
/** The relay's checkpoint bucket (a JetStream key-value store) for a stream. */
export const checkpointBucket = (stream: string) => `${stream}_relay`;

/**
 * Publishes every event of the log, in position order, into a JetStream stream. Events go out in
 * chained windows (`publishInOrder`): each is stored only right after its predecessor, so the
 * stream holds the relay's events in log order with no gap, even across outages. Each event's
 * id is its `Nats-Msg-Id`: an event sent again (a retry after a lost ack, a restart after a
 * crash) is dropped by JetStream within the duplicate window. The checkpoint (a key in a
 * JetStream KV bucket) is written only after the acknowledgements of a whole batch, and on start
 * the relay resumes from the later of that checkpoint and the position of the stream's last
 * relay-published message: nothing after the resume point was acknowledged as stored, and what
 * is republished is at most the tail of one batch, with the same message ids.
 */
export class NatsRelay {
  private readonly target;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private kv: KV | undefined;
  private position: bigint | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private signalled = false;
  private unsubscribe: (() => void) | undefined;
  private counts = { published: 0, duplicates: 0 };
  private lastError: string | undefined;
  private readonly progressListeners = new Set<(position: bigint) => void>();

  constructor(private readonly options: NatsRelayOptions) {
    this.target = resolveTarget(options);
  }

  /** Starts relaying in the background; never throws for NATS being down (it keeps retrying). */
  start(): void {
    if (this.running) return;
    this.stopped = false;
    this.unsubscribe = this.options.log.onAppended(() => this.signal());
    this.running = this.loop();
  }

  /** Stops after the event in flight; the checkpoint already written stays. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.signal();
    await this.running;
    this.running = undefined;
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await nc.close();
  }

  status(): RelayStatus {
    return {
      position: this.position ?? 0n,
      connected: this.nc !== undefined && !this.nc.isClosed(),
      ...this.counts,
      lastError: this.lastError,
    };
  }

  /** Calls `listener` with the acknowledged position after each batch. */
  onProgress(listener: (position: bigint) => void): () => void {
    this.progressListeners.add(listener);
    return () => this.progressListeners.delete(listener);
  }

  private signal(): void {
    this.signalled = true;
    this.wake?.();
  }

  /** Waits for a signal, `ms`, or stop. */
  private pause(ms: number): Promise<void> {
    if (this.signalled || this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = undefined;
    });
  }

  private async loop(): Promise<void> {
    let backoff = 100;
    while (!this.stopped) {
      try {
        await this.connectOnce();
        this.signalled = false;
        const published = await this.relayBatch();
        backoff = 100;
        if (!published) await this.pause(this.options.idlePollMs ?? 1000);
      } catch (error) {
        if (this.stopped) break;
        const e = error instanceof Error ? error : new Error(String(error));
        this.lastError = e.message;
        this.options.onError?.(e);
        // Back off (wake-ups from appends do not shorten it), up to 5 s, then try again.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoff);
          this.wake = () => {
            if (this.stopped) {
              clearTimeout(timer);
              resolve();
            }
          };
        });
        this.wake = undefined;
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  private async connectOnce(): Promise<void> {
    if (this.nc?.isClosed()) {
      this.nc = undefined;
      this.js = undefined;
      this.kv = undefined;
    }
    if (this.nc && this.js && this.kv) return;
    const nc = this.nc ?? (await connectNats(this.options.servers, 'tworooms-relay'));
    this.nc = nc;
    if (this.stopped) return;
    const jsm = await nc.jetstreamManager({ timeout: 5000 });
    await ensureEventStream(
      jsm,
      this.target.stream,
      this.target.prefix,
      this.options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS,
    );
    const js = nc.jetstream({ timeout: this.options.ackTimeoutMs ?? 5000 });
    const kv = await js.views.kv(checkpointBucket(this.target.stream), { history: 1 });
    if (this.position === undefined) this.position = await this.resumePosition(jsm, kv);
    this.js = js;
    this.kv = kv;
    this.lastError = undefined;
  }

  /** The later of the checkpoint and the last relay-published message's position. */
  private async resumePosition(
    jsm: Awaited<ReturnType<NatsConnection['jetstreamManager']>>,
    kv: KV,
  ): Promise<bigint> {
    const entry = await kv.get(CHECKPOINT_KEY);
    let position = entry && entry.length > 0 ? BigInt(entry.string()) : 0n;
    const info = await jsm.streams.info(this.target.stream);
    if (info.state.messages > 0) {
      try {
        const last = await jsm.streams.getMessage(this.target.stream, { seq: info.state.last_seq });
        const at = last.header?.get(HEADER.position);
        // A replay's message says nothing about how far the relay got.
        if (at && !last.header.has(HEADER.replay) && BigInt(at) > position) position = BigInt(at);
      } catch {
        // the last message was removed meanwhile: the checkpoint alone is enough
      }
    }
    return position;
  }

  /** Publishes the next batch; false when there was nothing new. */
  private async relayBatch(): Promise<boolean> {
    const from = this.position ?? 0n;
    const { events, coveredTo } = await this.options.log.readAll({
      after: from,
      limit: this.options.batchSize ?? 500,
    });
    const js = this.js;
    if (!js) throw new Error('not connected');
    // Only the part not yet acknowledged (a retry after an outage resumes mid-batch).
    const pending = events.filter((e) => e.position > (this.position ?? 0n));
    await publishInOrder(
      js,
      pending.map((e) => ({
        subject: eventSubject(this.target.prefix, e.type),
        data: encodeEvent(e),
        msgId: e.id,
        headers: eventHeaders(e),
      })),
      (i, ack) => {
        if (ack.duplicate) this.counts.duplicates++;
        else this.counts.published++;
        this.position = (pending[i] as RecordedEvent).position;
      },
      this.options.window ?? 64,
    );
    if (this.stopped) return true;
    if (coveredTo > from) {
      this.position = coveredTo;
      await this.kv?.put(CHECKPOINT_KEY, coveredTo.toString());
      for (const l of this.progressListeners) l(coveredTo);
    }
    return coveredTo > from;
  }
}

/** A relay from the log to JetStream (see `NatsRelay`); call `start()`. */
export const natsRelay = (options: NatsRelayOptions) => new NatsRelay(options);
