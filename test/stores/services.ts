import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { checkpointBucket } from '../../src/stores/nats/index.js';

export const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
export const NATS_URL = process.env['TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** A random suffix so that concurrent runs never share keys, streams or databases. */
export const runId = () => randomBytes(5).toString('hex');

/** True when something accepts TCP connections at `url`'s host and port. */
export function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(port), hostname, () => done(true));
  });
}

/** Skip when a service is down locally; under CI a missing service fails the run. */
export async function requireService(url: string): Promise<boolean> {
  if (await reachable(url)) return true;
  if (process.env['CI'] === 'true') throw new Error(`service not reachable at ${url}`);
  return false;
}

/** Polls `check` until it holds (deadline `ms`): no fixed sleeps. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Deletes every key under `prefix` (test clean-up only: SCAN is fine here, not on a hot path). */
export async function dropRedisPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Removes what a production-stack run left in Redis (keys under `prefix`) and NATS (`stream` and its relay checkpoint bucket). */
export async function removeProductionState(prefix: string, stream: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await dropRedisPrefix(redis, prefix);
  } finally {
    redis.disconnect();
  }
  const nc = await connect({ servers: NATS_URL.replace('nats://', '') });
  try {
    const jsm = await nc.jetstreamManager();
    for (const name of [stream, `KV_${checkpointBucket(stream)}`])
      await jsm.streams.delete(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
}
