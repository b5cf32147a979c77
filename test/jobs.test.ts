import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { inProcessJobs } from '../src/core/jobs.js';
import { bullmqJobs } from '../src/stores/redis/jobs.js';
import { jobQueueSuite } from './conformance/job-queue-suite.js';

const REDIS = process.env['TWOROOMS_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';
const prefix = `tworooms-test-jobs-${randomBytes(4).toString('hex')}`;

jobQueueSuite('in-process', async (options) => inProcessJobs(options));
jobQueueSuite('BullMQ on Redis', async (options) => {
  const q = bullmqJobs({
    ...options,
    url: REDIS,
    prefix: `${prefix}-${randomBytes(3).toString('hex')}`,
  });
  return q;
});

afterAll(async () => {
  // Leave nothing of this run in Redis.
  const redis = new Redis(REDIS);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
});
