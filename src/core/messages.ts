/** Metadata every message may carry; stores keep it with each recorded event. */
export interface MessageMetadata {
  /** Groups every message caused by one outside request. */
  readonly correlationId?: string;
  /** The id of the message (usually a command) that caused this one. */
  readonly causationId?: string;
  /** Who asked: a customer id, `admin`, a worker name. */
  readonly actor?: string;
  readonly [key: string]: unknown;
}

/** Metadata of a command: time and ids come in here so that `decide` stays pure. */
export interface CommandMetadata extends MessageMetadata {
  /** The command's own id; events it records get it as their causation id. */
  readonly commandId?: string;
  /** The clock reading the handler must use ("now" as far as the domain is concerned). */
  readonly now?: Date;
  /** A client-chosen key: the same key and payload never execute twice. */
  readonly idempotencyKey?: string;
}

type Data = Readonly<Record<string, unknown>>;

/** An intention to change state, e.g. `{ type: 'UpdateProductPrice', data: { productId, priceCents } }`. */
export type Command<
  Type extends string = string,
  D extends Data = Data,
  M extends CommandMetadata = CommandMetadata,
> = Readonly<{ type: Type; data: Readonly<D>; metadata?: M }>;

/** A question to a read model; never changes state. */
export type Query<Type extends string = string, D extends Data = Data> = Readonly<{
  type: Type;
  data: Readonly<D>;
}>;

/** A fact, named in the past tense, e.g. `{ type: 'ProductPriceUpdated', data: {...} }`. */
export type Event<Type extends string = string, D extends Data = Data> = Readonly<{
  type: Type;
  data: Readonly<D>;
  metadata?: MessageMetadata;
}>;

/** An event as the log holds it: with its identity and its place in the stream and in the log. */
export type RecordedEvent<E extends Event = Event> = E &
  Readonly<{
    /** Unique id (a UUID); brokers use it to drop duplicates. */
    id: string;
    streamId: string;
    /** 1 for a stream's first event, then contiguous. */
    streamVersion: bigint;
    /** Global position in the log: total order, strictly increasing with commit order. */
    position: bigint;
    recordedAt: Date;
    metadata: MessageMetadata;
  }>;

/**
 * An event as the log's lean read gives it (`EventLogReader.readAllData`): its type, its data and
 * its global position, without the rest of its record (id, stream, version, metadata, time).
 * Every `RecordedEvent` is one.
 */
export type PositionedEvent<E extends Event = Event> = E & Readonly<{ position: bigint }>;

/** Type-level helper: the `type` strings of a union of messages. */
export type TypeOf<M extends { type: string }> = M['type'];
