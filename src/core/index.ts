/** tworooms: the CQRS + event-sourcing toolkit's core. No drivers, no Node built-ins. */

export * from './cache.js';
export * from './checkpoint-progress.js';
export * from './command-bus.js';
export * from './consistency.js';
export * from './decider.js';
export * from './errors.js';
export * from './event-log.js';
export * from './full-text.js';
export * from './idempotency.js';
export * from './ids.js';
export * from './json.js';
export * from './messages.js';
export * from './middleware.js';
export * from './mutex.js';
export * from './projection.js';
export * from './projector.js';
export * from './query-bus.js';
export * from './read-models.js';
export * from './sql.js';
export * from './state-stored.js';
export * from './table-copy.js';
export * from './table-names.js';
export * from './verify.js';
export * from './write-store.js';
