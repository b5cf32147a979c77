import { InProcessCache } from '../../src/stores/memory/index.js';
import { cacheConformance } from '../conformance/cache-suite.js';

cacheConformance('in-process', async (options) => ({
  cache: new InProcessCache(options?.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
  cleanup: async () => undefined,
}));
