export { RedisCache, type RedisCacheOptions, redisCache } from './cache.js';
export { NearCache, type NearCacheOptions } from './near-cache.js';
