// The relay across a NATS outage: commands keep succeeding while NATS is down, and once it is back
// every event is in JetStream exactly once, in order. Stops and restarts the machine's nats-server
// (no other helper uses it) and always restarts it, waiting until it accepts connections.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { NatsRelay } from '../../src/stores/nats/index.js';
import { natsFixture, positionOf } from './nats-helpers.js';
import { eventually, NATS_URL, reachable, requireService } from './services.js';

const run = promisify(execFile);
const available = await requireService(NATS_URL);

const stopNats = () =>
  run('start-stop-daemon', [
    '--stop',
    '--oknodo',
    '--retry',
    '10',
    '--exec',
    '/usr/sbin/nats-server',
  ]);
const startNats = async () => {
  await run('start-stop-daemon', [
    '--start',
    '--oknodo',
    '--background',
    '--exec',
    '/usr/sbin/nats-server',
    '--',
    '-a',
    '127.0.0.1',
    '-p',
    '4222',
    '-js',
    '-sd',
    '/var/lib/nats-server',
    '-l',
    '/var/log/nats-server.log',
  ]);
  await eventually(() => reachable(NATS_URL), 'nats-server accepting connections', 30_000);
};

describe.skipIf(!available)('NATS relay across an outage', () => {
  afterAll(async () => {
    if (!(await reachable(NATS_URL))) await startNats();
  });

  it('commands succeed while NATS is down; afterwards every event is in JetStream once, in order', async () => {
    const f = await natsFixture();
    const errors: string[] = [];
    const relay = new NatsRelay({
      log: f.store,
      ...f.target,
      idlePollMs: 60_000,
      ackTimeoutMs: 1000,
      onError: (e) => errors.push(e.message),
    });
    let committed = 0;
    let failures = 0;
    let stop = false;
    // A stream of commands through the WriteStore: one transaction, one event each.
    const commands = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await f.store.transact((tx) =>
            tx.record(`product-${i % 5}`, [
              { type: 'ProductPriceUpdated', data: { productId: `p${i % 5}`, priceCents: i } },
            ]),
          );
          committed++;
        } catch {
          failures++;
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    try {
      relay.start();
      await eventually(() => relay.status().position >= 20n, 'relay under way');
      await stopNats();
      await eventually(async () => !(await reachable(NATS_URL)), 'nats-server stopped');
      const atStop = committed;
      await eventually(() => committed >= atStop + 100, 'commands while NATS is down', 30_000);
      await eventually(() => errors.length > 0, 'the relay noticing the outage', 30_000);
      await startNats();
      const atStart = committed;
      await eventually(() => committed >= atStart + 50, 'commands after NATS is back');
      stop = true;
      await commands;
      const head = await f.store.headPosition();
      await eventually(() => relay.status().position === head, 'backlog drained', 60_000);
      expect(failures).toBe(0);
      expect(head).toBe(BigInt(committed));
      const messages = await f.messages();
      const positions = messages.map(positionOf);
      expect(positions).toEqual(Array.from({ length: committed }, (_, i) => BigInt(i + 1)));
      const ids = messages.map((m) => m.header.get('Nats-Msg-Id'));
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      stop = true;
      await commands;
      if (!(await reachable(NATS_URL))) await startNats();
      await relay.stop();
      await f.cleanup();
    }
  }, 180_000);
});
