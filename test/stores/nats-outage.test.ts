// The relay across a NATS outage: commands keep succeeding while NATS is down, and once it is back
// every event is in JetStream exactly once, in order. The outage is real: a nats-server process of
// its own (same binary, own port and store directory) is killed and started again, so the other
// NATS tests running at the same time on the machine's server are not disturbed.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NatsRelay } from '../../src/stores/nats/index.js';
import { natsFixture, positionOf } from './nats-helpers.js';
import { eventually, NATS_URL, reachable, requireService } from './services.js';

const NATS_SERVER = '/usr/sbin/nats-server';
const available = await requireService(NATS_URL);

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

/** A nats-server of this test's own, stopped and started like the machine's. */
function privateNats(port: number, dir: string) {
  let child: ChildProcess | undefined;
  const url = `nats://127.0.0.1:${port}`;
  return {
    url,
    async start() {
      child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
        stdio: 'ignore',
      });
      await eventually(() => reachable(url), 'nats-server accepting connections', 30_000);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await exited;
    },
  };
}

describe.skipIf(!available)('NATS relay across an outage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tworooms-nats-server-'));
  let nats: ReturnType<typeof privateNats>;
  afterAll(async () => {
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commands succeed while NATS is down; afterwards every event is in JetStream once, in order', async () => {
    nats = privateNats(await freePort(), dir);
    await nats.start();
    const f = await natsFixture(nats.url);
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
      await nats.stop();
      expect(await reachable(nats.url)).toBe(false);
      const atStop = committed;
      await eventually(() => committed >= atStop + 100, 'commands while NATS is down', 30_000);
      await eventually(() => errors.length > 0, 'the relay noticing the outage', 30_000);
      await nats.start();
      const atStart = committed;
      await eventually(() => committed >= atStart + 50, 'commands after NATS is back');
      stop = true;
      await commands;
      const head = await f.store.headPosition();
      await eventually(() => relay.status().position === head, 'backlog drained', 60_000);
      await f.jetStreamAnswers(); // this test's own connection, back after the restart
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
      if (!(await reachable(nats.url))) await nats.start();
      await relay.stop();
      await f.cleanup();
    }
  }, 180_000);
});
