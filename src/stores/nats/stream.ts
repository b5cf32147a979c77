import {
  connect,
  type JetStreamManager,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from 'nats';
import { allEventSubjects, checkPrefix, checkStreamName } from './event-message.js';

/** Where events go: the server(s), the stream and the subject prefix. */
export interface NatsTarget {
  /** `nats://127.0.0.1:4222`, or several (comma-separated or a list) for a cluster. */
  readonly servers: string | readonly string[];
  /** JetStream stream name (default `TWOROOMS_EVENTS`). */
  readonly stream?: string;
  /** Subject prefix (default `tworooms`): events go to `<prefix>.events.<EventType>`. */
  readonly prefix?: string;
}

export const DEFAULT_STREAM = 'TWOROOMS_EVENTS';
export const DEFAULT_PREFIX = 'tworooms';
/** How long JetStream remembers a message id to drop a duplicate (NATS's own default). */
export const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;

/** The stream name and prefix of a target, checked, with the defaults. */
export function resolveTarget(target: NatsTarget): { stream: string; prefix: string } {
  return {
    stream: checkStreamName(target.stream ?? DEFAULT_STREAM),
    prefix: checkPrefix(target.prefix ?? DEFAULT_PREFIX),
  };
}

export const serverList = (servers: string | readonly string[]): string[] =>
  (typeof servers === 'string' ? servers.split(',') : [...servers])
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => s.replace(/^nats:\/\//, ''));

/** NATS did not answer: a one-line message for the CLI, no stack trace. */
export class NatsUnreachable extends Error {
  override readonly name = 'NatsUnreachable';
}

/**
 * Connects once (throws `NatsUnreachable` if no server answers); once connected, the client
 * reconnects forever with back-off, buffering what is published meanwhile.
 */
export async function connectNats(
  servers: string | readonly string[],
  name: string,
): Promise<NatsConnection> {
  const list = serverList(servers);
  try {
    return await connect({
      servers: list,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      reconnectJitter: 250,
      timeout: 3000,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new NatsUnreachable(`NATS unreachable at ${list.join(', ')} (${reason})`);
  }
}

/**
 * Creates the event stream, or updates it to the expected subjects (and duplicate window, when
 * given: the relay owns it; a replay leaves it). Limits retention with no age limit: the log is
 * the archive, the stream a distribution buffer the operator may cap (`max_bytes`, `max_age`)
 * without this overwriting it.
 */
export async function ensureEventStream(
  jsm: JetStreamManager,
  stream: string,
  prefix: string,
  duplicateWindowMs?: number,
): Promise<void> {
  const subjects = [allEventSubjects(prefix)];
  const window = duplicateWindowMs === undefined ? undefined : nanos(duplicateWindowMs);
  try {
    const info = await jsm.streams.info(stream);
    const same =
      info.config.subjects.length === 1 &&
      info.config.subjects[0] === subjects[0] &&
      (window === undefined || info.config.duplicate_window === window);
    if (!same)
      await jsm.streams.update(stream, {
        ...info.config,
        subjects,
        ...(window === undefined ? {} : { duplicate_window: window }),
      });
  } catch (error) {
    if (!/stream not found/i.test(String((error as Error).message))) throw error;
    await jsm.streams.add({
      name: stream,
      subjects,
      duplicate_window: window ?? nanos(DEFAULT_DUPLICATE_WINDOW_MS),
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
    } satisfies Partial<StreamConfig>);
  }
}
