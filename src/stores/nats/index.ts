export {
  type NatsCacheInvalidationOptions,
  natsCacheInvalidation,
  type ProjectedInvalidationOptions,
  projectedInvalidation,
} from './cache-invalidation.js';
export {
  allEventSubjects,
  decodeEvent,
  type EventPayload,
  encodeEvent,
  eventSubject,
  HEADER,
} from './event-message.js';
export {
  checkpointBucket,
  NatsRelay,
  type NatsRelayOptions,
  natsRelay,
  type RelayStatus,
} from './relay.js';
export { type ReplayOptions, type ReplayResult, replayMsgId, replayToNats } from './replay.js';
export {
  connectNats,
  DEFAULT_DUPLICATE_WINDOW_MS,
  DEFAULT_PREFIX,
  DEFAULT_STREAM,
  ensureEventStream,
  type NatsTarget,
  NatsUnreachable,
} from './stream.js';
export {
  type EventSubscription,
  type EventSubscriptionOptions,
  natsEventSubscription,
} from './subscriber.js';
