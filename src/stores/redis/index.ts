export { RedisCache, type RedisCacheOptions, redisCache } from './cache.js';
