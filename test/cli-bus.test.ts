// `tworooms relay` and `tworooms replay` as an operator runs them: real processes, a real NATS.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointBucket } from '../src/stores/nats/index.js';
import { SqliteEventStore } from '../src/stores/sqlite/index.js';
import { eventually, NATS_URL, requireService, runId } from './stores/services.js';

const root = new URL('..', import.meta.url).pathname;
const tsx = join(root, 'node_modules/tsx/dist/cli.mjs');
const cli = join(root, 'src/cli/main.ts');
const available = await requireService(NATS_URL);

describe.skipIf(!available)('tworooms relay / replay', () => {
  const id = runId();
  const dir = mkdtempSync(join(tmpdir(), 'tworooms-cli-bus-'));
  const stream = `CLI_EVENTS_${id}`;
  const env = {
    ...process.env,
    TWOROOMS_DATA_DIR: dir,
    TWOROOMS_BUS: NATS_URL,
    TWOROOMS_BUS_STREAM: stream,
    TWOROOMS_BUS_PREFIX: `cli${id}`,
  };
  let store: SqliteEventStore;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let relay: ChildProcess | undefined;

  const run = async (args: string[], extra: Record<string, string | undefined> = {}) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [tsx, cli, ...args], {
        env: { ...env, ...extra },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const messages = async () => (await jsm.streams.info(stream)).state.messages;
  const append = async (n: number) => {
    for (let i = 0; i < n; i++)
      await store.append(`cart-${i}`, [{ type: 'CartCreated', data: { customerId: `c${i}` } }]);
  };

  beforeAll(async () => {
    store = new SqliteEventStore({ path: join(dir, 'write.db') });
    nc = await connect({ servers: NATS_URL.replace('nats://', '') });
    jsm = await nc.jetstreamManager();
  });
  afterAll(async () => {
    if (relay && relay.exitCode === null) relay.kill('SIGKILL');
    for (const name of [stream, `KV_${checkpointBucket(stream)}`])
      await jsm.streams.delete(name).catch(() => undefined);
    await nc.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses bad flags and a missing or bad TWOROOMS_BUS with one line, no stack trace', async () => {
    const [noBus, badBus, badFrom, backwards, badCache] = await Promise.all([
      run(['replay', '--from', '1'], { TWOROOMS_BUS: '' }),
      run(['relay'], { TWOROOMS_BUS: 'redis://127.0.0.1:6379' }),
      run(['replay', '--from', 'x']),
      run(['replay', '--from', '5', '--to', '2']),
      run(['replay', '--from', '1'], { TWOROOMS_CACHE: 'memcached://x' }),
    ]);
    expect(noBus.code).toBe(2);
    expect(noBus.stderr).toContain('needs NATS JetStream: set TWOROOMS_BUS=nats://');
    expect(badBus.code).toBe(2);
    expect(badBus.stderr).toContain(
      'TWOROOMS_BUS=redis://127.0.0.1:6379: use in-process or nats://',
    );
    expect(badFrom.code).toBe(1);
    expect(badFrom.stderr).toContain('a log position');
    expect(backwards.stderr).toContain('--to 2 is before --from 5');
    expect(badCache.stderr).toContain('TWOROOMS_CACHE=memcached://x');
    for (const r of [noBus, badBus, badFrom, backwards, badCache])
      expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('says NATS is unreachable, without a stack trace', async () => {
    await append(3);
    const down = await run(['replay', '--from', '1'], { TWOROOMS_BUS: 'nats://127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('NATS unreachable at 127.0.0.1:1');
    expect(down.stderr).not.toMatch(/\n\s+at /);
  });

  it('relay publishes the log, follows appends from another process, stops on SIGTERM', async () => {
    const head = Number(await store.headPosition());
    const child = spawn(process.execPath, [tsx, cli, 'relay', '--poll-ms', '50'], { env });
    relay = child;
    let stdout = '';
    child.stdout?.on('data', (chunk) => {
      stdout += String(chunk);
    });
    await eventually(async () => (await messages().catch(() => 0)) === head, 'initial publish');
    await append(4);
    await eventually(async () => (await messages()) === head + 4, 'appends from this process');
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toContain(`relay stopped at position ${head + 4}`);
  });

  it('replay republishes a range; repeating it is dropped, a new label is not', async () => {
    const first = await run(['replay', '--from', '2', '--to', '4']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('replayed positions 2–4');
    expect(first.stdout).toContain('3 published, 0 dropped');
    const again = await run(['replay', '--from', '2', '--to', '4']);
    expect(again.stdout).toContain('0 published, 3 dropped');
    const labelled = await run([
      'replay',
      '--from',
      '2',
      '--to',
      '4',
      '--label',
      'second',
      '--types',
      'CartCreated',
    ]);
    expect(labelled.stdout).toContain('3 published, 0 dropped');
  });

  it('replay --types republishes only the events of those types in the range', async () => {
    const from = Number(await store.headPosition()) + 1;
    await store.append('cart-mixed', [
      { type: 'CartCreated', data: { customerId: 'm' } },
      { type: 'CartItemAdded', data: { productId: 'p1', quantity: 1 } },
      { type: 'CartCreated', data: { customerId: 'n' } },
      { type: 'CartItemRemoved', data: { productId: 'p1' } },
    ]);
    const range = ['replay', '--from', String(from), '--to', String(from + 3)];
    const before = await messages();
    const one = await run([...range, '--label', 'types-one', '--types', 'CartItemAdded']);
    expect(one.stdout).toContain(`replayed positions ${from}–${from + 3} (CartItemAdded)`);
    expect(one.stdout).toContain('1 published, 0 dropped');
    const two = await run([
      ...range,
      '--label',
      'types-two',
      '--types',
      'CartCreated,CartItemRemoved',
    ]);
    expect(two.stdout).toContain('3 published, 0 dropped');
    expect(await messages()).toBe(before + 4);
  });
});
