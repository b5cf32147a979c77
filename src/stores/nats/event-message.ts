import { headers, type MsgHdrs } from 'nats';
import type { MessageMetadata, RecordedEvent } from '../../core/messages.js';

/** Headers every event message carries (besides `Nats-Msg-Id`). */
export const HEADER = {
  position: 'Tworooms-Position',
  stream: 'Tworooms-Stream',
  version: 'Tworooms-Stream-Version',
  type: 'Tworooms-Event-Type',
  /** Only on messages published by `replay`: the replay's label. */
  replay: 'Tworooms-Replay',
} as const;

/** The JSON body of an event message: the recorded event, with bigints as decimal strings. */
export interface EventPayload {
  readonly id: string;
  readonly type: string;
  readonly streamId: string;
  readonly streamVersion: string;
  readonly position: string;
  readonly recordedAt: string;
  readonly data: Record<string, unknown>;
  readonly metadata: MessageMetadata;
}

const TOKEN = /^[^\s.*>]+$/;

/** `<prefix>.events.<EventType>`; characters a subject token cannot hold become `_`. */
export function eventSubject(prefix: string, type: string): string {
  return `${prefix}.events.${TOKEN.test(type) ? type : type.replace(/[\s.*>]/g, '_')}`;
}

/** Every event subject under `prefix` (the stream's subject filter). */
export const allEventSubjects = (prefix: string) => `${prefix}.events.>`;

/** Checks a subject prefix (dot-separated tokens, no wildcards). */
export function checkPrefix(prefix: string): string {
  if (!prefix.split('.').every((t) => TOKEN.test(t)))
    throw new Error(
      `invalid NATS subject prefix "${prefix}": use tokens like tworooms or acme.shop`,
    );
  return prefix;
}

/** Checks a JetStream stream name (also used to name the relay's checkpoint bucket). */
export function checkStreamName(name: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name))
    throw new Error(`invalid JetStream stream name "${name}": use letters, digits, - and _`);
  return name;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The message body of an event (bigints anywhere become decimal strings). */
export function encodeEvent(event: RecordedEvent): Uint8Array {
  const payload: EventPayload = {
    id: event.id,
    type: event.type,
    streamId: event.streamId,
    streamVersion: event.streamVersion.toString(),
    position: event.position.toString(),
    recordedAt: event.recordedAt.toISOString(),
    data: event.data as Record<string, unknown>,
    metadata: event.metadata,
  };
  return encoder.encode(
    JSON.stringify(payload, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
  );
}

/** The recorded event back from a message body. */
export function decodeEvent(body: Uint8Array): RecordedEvent {
  const p = JSON.parse(decoder.decode(body)) as EventPayload;
  return {
    id: p.id,
    type: p.type,
    streamId: p.streamId,
    streamVersion: BigInt(p.streamVersion),
    position: BigInt(p.position),
    recordedAt: new Date(p.recordedAt),
    data: p.data,
    metadata: p.metadata,
  };
}

/** The headers of an event message; `replay` marks a message republished by `replay`. */
export function eventHeaders(event: RecordedEvent, replay?: string): MsgHdrs {
  const h = headers();
  h.set(HEADER.position, event.position.toString());
  h.set(HEADER.stream, event.streamId);
  h.set(HEADER.version, event.streamVersion.toString());
  h.set(HEADER.type, event.type);
  if (replay !== undefined) h.set(HEADER.replay, replay);
  return h;
}
