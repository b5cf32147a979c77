export { MemoryEventStore, type MemoryEventStoreOptions, memoryEventStore } from './event-store.js';
export { InProcessCache, inProcessCache, type LruCacheOptions } from './lru-cache.js';
export { MemoryReadStore, memoryReadStore } from './read-store.js';
export { MemoryTables } from './tables.js';
