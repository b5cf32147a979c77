import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type JetStreamManager, type NatsConnection, type StoredMsg } from 'nats';
import type { Event } from '../../src/core/messages.js';
import { checkpointBucket, HEADER } from '../../src/stores/nats/index.js';
import { SqliteEventStore } from '../../src/stores/sqlite/index.js';
import { NATS_URL, runId } from './services.js';

/** A fresh SQLite log and a unique stream/prefix, removed by `cleanup`. */
export async function natsFixture(url = NATS_URL) {
  const id = runId();
  const dir = mkdtempSync(join(tmpdir(), 'tworooms-nats-'));
  const store = new SqliteEventStore({ path: join(dir, 'write.db') });
  const stream = `TEST_EVENTS_${id}`;
  const prefix = `test${id}`;
  const nc: NatsConnection = await connect({
    servers: url.replace('nats://', ''),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
  const jsm: JetStreamManager = await nc.jetstreamManager();
  return {
    store,
    stream,
    prefix,
    target: { servers: url, stream, prefix },
    jsm,
    /** Appends `n` events, one per command, spread over a few streams. */
    async append(n: number, type = 'ProductPriceUpdated') {
      for (let i = 0; i < n; i++) {
        const event: Event = { type, data: { productId: `p${i % 7}`, priceCents: i } };
        await store.append(`product-${i % 7}`, [event]);
      }
    },
    /** Resolves once JetStream answers this fixture's connection (e.g. after a server restart). */
    async jetStreamAnswers() {
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
        const ok = await jsm.streams.info(stream).then(
          () => true,
          () => false,
        );
        if (ok) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('JetStream did not answer within 30 s');
    },
    /** Every message of the stream, in stream order. */
    async messages(): Promise<StoredMsg[]> {
      const info = await jsm.streams.info(stream);
      const out: StoredMsg[] = [];
      for (
        let seq = info.state.first_seq;
        seq <= info.state.last_seq && info.state.messages > 0;
        seq++
      )
        out.push(await jsm.streams.getMessage(stream, { seq }));
      return out;
    },
    async cleanup() {
      for (const name of [stream, `KV_${checkpointBucket(stream)}`])
        await jsm.streams.delete(name).catch(() => undefined);
      await nc.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const positionOf = (m: StoredMsg) => BigInt(m.header.get(HEADER.position));
export const relayed = (ms: StoredMsg[]) => ms.filter((m) => !m.header.has(HEADER.replay));
