import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/core/messages.js';
import {
  checkpointBucket,
  decodeEvent,
  type EventSubscription,
  HEADER,
  NatsRelay,
  natsEventSubscription,
  replayToNats,
} from '../../src/stores/nats/index.js';
import { natsFixture, positionOf, relayed } from './nats-helpers.js';
import { eventually, NATS_URL, requireService } from './services.js';

const available = await requireService(NATS_URL);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));

describe.skipIf(!available)('NATS relay and replay', () => {
  let f: Awaited<ReturnType<typeof natsFixture>>;
  const relays: NatsRelay[] = [];
  const subs: EventSubscription[] = [];
  const relay = (options: Partial<ConstructorParameters<typeof NatsRelay>[0]> = {}) => {
    // A long idle poll: only `onAppended` can wake the relay quickly.
    const r = new NatsRelay({ log: f.store, ...f.target, idlePollMs: 60_000, ...options });
    relays.push(r);
    r.start();
    return r;
  };
  const caughtUp = (r: NatsRelay) =>
    eventually(async () => r.status().position === (await f.store.headPosition()), 'relay');

  beforeEach(async () => {
    f = await natsFixture();
  });
  afterEach(async () => {
    for (const s of subs.splice(0)) await s.close();
    for (const r of relays.splice(0)) await r.stop();
    await f.cleanup();
  });

  it('publishes every event once, in order, with subject, id, headers and payload', async () => {
    await f.append(25);
    const r = relay();
    await caughtUp(r);
    await f.store.append('cart-1', [{ type: 'CartCreated', data: { customerId: 'c1' } }]);
    await caughtUp(r); // woken by onAppended, not by the 60 s poll
    const messages = await f.messages();
    expect(messages.map(positionOf)).toEqual(range(1, 26));
    const { events } = await f.store.readAll({ after: 0n, limit: 100 });
    messages.forEach((m, i) => {
      const e = events[i] as RecordedEvent;
      expect(m.subject).toBe(`${f.prefix}.events.${e.type}`);
      expect(m.header.get('Nats-Msg-Id')).toBe(e.id);
      expect(m.header.get(HEADER.stream)).toBe(e.streamId);
      expect(m.header.get(HEADER.version)).toBe(e.streamVersion.toString());
      expect(m.header.get(HEADER.type)).toBe(e.type);
      expect(decodeEvent(m.data)).toEqual(e);
    });
    expect(JSON.parse(new TextDecoder().decode(messages[25]?.data))).toMatchObject({
      type: 'CartCreated',
      position: '26',
      streamVersion: '1',
      streamId: 'cart-1',
      data: { customerId: 'c1' },
    });
    expect(r.status()).toMatchObject({ published: 26, duplicates: 0 });
  });

  it('resumes after a stop mid-stream with no loss and no duplicate', async () => {
    await f.append(60);
    const first = relay({ batchSize: 5 });
    let stopping: Promise<void> | undefined;
    first.onProgress((position) => {
      if (position >= 15n) stopping ??= first.stop(); // stop mid-stream, deterministically
    });
    await eventually(() => stopping !== undefined, 'first relay under way');
    await stopping;
    expect(first.status().position).toBe(15n);
    await f.append(20);
    const second = relay({ batchSize: 5 });
    await caughtUp(second);
    expect((await f.messages()).map(positionOf)).toEqual(range(1, 80));
  });

  it('after a crash between the acks and the checkpoint, republished events are dropped', async () => {
    await f.append(30);
    const first = relay();
    await caughtUp(first);
    await first.stop();
    // The crash: the checkpoint is 10 events behind, and a replay message sits at the stream's
    // tail, so the relay cannot learn its position from the tail either.
    const kv = await (await import('nats')).connect({ servers: NATS_URL.slice(7) });
    const bucket = await kv.jetstream().views.kv(checkpointBucket(f.stream));
    await bucket.put('position', '20');
    await kv.close();
    await replayToNats({ log: f.store, ...f.target, from: 30n, to: 30n });
    const second = relay();
    await caughtUp(second);
    expect(second.status()).toMatchObject({ published: 0, duplicates: 10 });
    const all = await f.messages();
    expect(relayed(all).map(positionOf)).toEqual(range(1, 30));
    expect(all).toHaveLength(31);
  });

  it('replays a range to consumers; repeating it is dropped by JetStream, a new label is not', async () => {
    await f.append(40);
    const r = relay();
    await caughtUp(r);
    const seen: bigint[] = [];
    const sub = natsEventSubscription({
      ...f.target,
      onEvents: (events) => {
        seen.push(...events.map((e) => e.position));
      },
    });
    subs.push(sub);
    await sub.ready;
    const progress: number[] = [];
    const once = await replayToNats({
      log: f.store,
      ...f.target,
      from: 10n,
      to: 20n,
      onProgress: (done) => progress.push(done),
    });
    expect(once).toMatchObject({ published: 11, duplicates: 0 });
    expect(progress.at(-1)).toBe(11);
    await eventually(() => seen.length >= 11, 'replayed events delivered');
    expect(seen).toEqual(range(10, 20));
    const again = await replayToNats({ log: f.store, ...f.target, from: 10n, to: 20n });
    expect(again).toMatchObject({ published: 0, duplicates: 11 });
    expect(await f.messages()).toHaveLength(51);
    const labelled = await replayToNats({
      log: f.store,
      ...f.target,
      from: 10n,
      to: 20n,
      label: 'again',
      types: ['ProductPriceUpdated'],
    });
    expect(labelled).toMatchObject({ published: 11, duplicates: 0 });
    await eventually(() => seen.length >= 22, 'second delivery');
    const replays = (await f.messages()).filter((m) => m.header.has(HEADER.replay));
    expect(replays.map((m) => m.header.get(HEADER.replay))).toEqual([
      ...Array(11).fill('replay'),
      ...Array(11).fill('again'),
    ]);
  });

  it('keeps the relay and a concurrent replay each in order, with no gap', async () => {
    await f.append(400);
    const r = relay({ window: 16 });
    const replay = replayToNats({ log: f.store, ...f.target, from: 1n, label: 'busy' });
    await caughtUp(r);
    expect(await replay).toMatchObject({ published: 400, duplicates: 0 });
    const all = await f.messages();
    expect(relayed(all).map(positionOf)).toEqual(range(1, 400));
    const replayed = all.filter((m) => m.header.has(HEADER.replay));
    expect(replayed.map(positionOf)).toEqual(range(1, 400));
    expect(r.status()).toMatchObject({ published: 400 });
  });

  it('replays only the requested types, in order', async () => {
    await f.append(6);
    await f.append(4, 'StockLevelSet');
    const result = await replayToNats({
      log: f.store,
      ...f.target,
      from: 1n,
      types: ['StockLevelSet'],
    });
    expect(result).toMatchObject({ from: 1n, to: 10n, published: 4 });
    const messages = await f.messages();
    expect(messages.map(positionOf)).toEqual(range(7, 10));
    expect(messages.every((m) => m.subject === `${f.prefix}.events.StockLevelSet`)).toBe(true);
  });
});
