export { MemoryEventStore, type MemoryEventStoreOptions, memoryEventStore } from './event-store.js';
export { MemoryReadStore, memoryReadStore } from './read-store.js';
export { MemoryTables } from './tables.js';
