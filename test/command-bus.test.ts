import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  authorization,
  type Command,
  type CommandContext,
  type CommandObservation,
  ConcurrencyConflict,
  commandBus,
  fingerprintOf,
  idempotency,
  observe,
  retry,
  validation,
} from '../src/core/index.js';
import { MemoryEventStore } from '../src/stores/memory/index.js';

type Greet = Command<'Greet', { name: string }>;
type Fail = Command<'Fail', { times: number }>;

const greet = async (c: Greet, ctx: CommandContext) => ({
  position: 1n,
  text: `hello ${c.data.name}`,
  actor: ctx.metadata.actor ?? null,
});

describe('command bus', () => {
  it('dispatches to the handler registered for the type, with typed results', async () => {
    const bus = commandBus({ Greet: greet });
    const r = await bus.dispatch({ type: 'Greet', data: { name: 'ada' } }, { actor: 'c-1' });
    expect(r).toEqual({ position: 1n, text: 'hello ada', actor: 'c-1' });
    expect(bus.handles('Greet')).toBe(true);
    expect(bus.handles('Nope')).toBe(false);
  });

  it('refuses an unknown command type with UNKNOWN_COMMAND', async () => {
    const bus = commandBus({ Greet: greet });
    await expect(
      bus.dispatch({ type: 'Nope', data: {} } as unknown as Greet),
    ).rejects.toMatchObject({ code: 'UNKNOWN_COMMAND', category: 'validation' });
  });

  it('fills in metadata: command id, correlation id, clock; keeps what the caller gave', async () => {
    let seen: CommandContext | undefined;
    const bus = commandBus(
      {
        Greet: async (_c: Greet, ctx: CommandContext) => {
          seen = ctx;
          return { position: 0n };
        },
      },
      { clock: () => new Date('2026-01-01T00:00:00Z'), newId: () => 'id-1' },
    );
    await bus.dispatch({ type: 'Greet', data: { name: 'x' } });
    expect(seen?.metadata).toMatchObject({ commandId: 'id-1', correlationId: 'id-1' });
    expect(seen?.metadata.now.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    await bus.dispatch(
      { type: 'Greet', data: { name: 'x' } },
      { correlationId: 'corr', actor: 'a' },
    );
    expect(seen?.metadata).toMatchObject({ commandId: 'id-1', correlationId: 'corr', actor: 'a' });
  });

  it('runs middleware outermost first', async () => {
    const order: string[] = [];
    const mw =
      (name: string) =>
      async (
        c: Command,
        ctx: CommandContext,
        next: (c: Command, ctx: CommandContext) => Promise<{ position: bigint }>,
      ) => {
        order.push(`${name}>`);
        const r = await next(c, ctx);
        order.push(`<${name}`);
        return r;
      };
    const bus = commandBus({ Greet: greet }, { middleware: [mw('a'), mw('b')] });
    await bus.dispatch({ type: 'Greet', data: { name: 'x' } });
    expect(order).toEqual(['a>', 'b>', '<b', '<a']);
  });

  it('validation middleware refuses bad data with VALIDATION_FAILED and the problems', async () => {
    let ran = 0;
    const bus = commandBus(
      {
        Greet: async (c: Greet) => {
          ran++;
          return { position: 0n, name: c.data.name };
        },
      },
      {
        middleware: [
          validation({
            Greet: (d) =>
              typeof (d as { name?: unknown }).name === 'string' ? [] : ['name must be a string'],
          }),
        ],
      },
    );
    await expect(
      bus.dispatch({ type: 'Greet', data: { name: 3 } } as unknown as Greet),
    ).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { problems: ['name must be a string'] },
    });
    expect(ran).toBe(0);
    await expect(bus.dispatch({ type: 'Greet', data: { name: 'ok' } })).resolves.toMatchObject({
      name: 'ok',
    });
  });

  it('authorization middleware: UNAUTHORIZED without an actor, FORBIDDEN for the wrong one', async () => {
    const bus = commandBus(
      { Greet: greet },
      { middleware: [authorization({ Greet: (_c, ctx) => ctx.metadata.actor === 'admin' })] },
    );
    const cmd: Greet = { type: 'Greet', data: { name: 'x' } };
    await expect(bus.dispatch(cmd)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(bus.dispatch(cmd, { actor: 'c-9' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
      category: 'forbidden',
    });
    await expect(bus.dispatch(cmd, { actor: 'admin' })).resolves.toMatchObject({ text: 'hello x' });
  });

  it('retry middleware retries concurrency conflicts a bounded number of times, nothing else', async () => {
    let calls = 0;
    const flaky = async (c: Fail) => {
      calls++;
      if (calls <= c.data.times) throw new ConcurrencyConflict('s', '1', 2n);
      return { position: BigInt(calls) };
    };
    const bus = commandBus(
      { Fail: flaky },
      { middleware: [retry({ attempts: 3, baseDelayMs: 0 })] },
    );
    await expect(bus.dispatch({ type: 'Fail', data: { times: 2 } })).resolves.toEqual({
      position: 3n,
    });
    calls = 0;
    await expect(bus.dispatch({ type: 'Fail', data: { times: 3 } })).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
    });
    expect(calls).toBe(3);
    let other = 0;
    const broken = commandBus(
      {
        Fail: async () => {
          other++;
          throw new Error('boom');
        },
      },
      { middleware: [retry({ attempts: 5, baseDelayMs: 0 })] },
    );
    await expect(broken.dispatch({ type: 'Fail', data: { times: 0 } })).rejects.toThrow('boom');
    expect(other).toBe(1);
  });

  it('observe middleware reports type, outcome, error code and a duration', async () => {
    const seen: CommandObservation[] = [];
    const bus = commandBus(
      {
        Greet: greet,
        Fail: async () => {
          throw new ConcurrencyConflict('s', '1', 2n);
        },
      },
      { middleware: [observe((o) => seen.push(o))] },
    );
    await bus.dispatch({ type: 'Greet', data: { name: 'x' } });
    await expect(bus.dispatch({ type: 'Fail', data: { times: 1 } })).rejects.toBeDefined();
    expect(seen.map((o) => [o.type, o.outcome, o.errorCode])).toEqual([
      ['Greet', 'ok', undefined],
      ['Fail', 'error', 'CONCURRENCY_CONFLICT'],
    ]);
    expect(seen.every((o) => o.durationMs >= 0)).toBe(true);
  });

  it('idempotency fingerprints with the SHA-256 it is given, equal to the Web Crypto ones', async () => {
    const hashed: string[] = [];
    const sha256 = (text: string) => {
      hashed.push(text);
      return createHash('sha256').update(text).digest('hex');
    };
    const command: Greet = { type: 'Greet', data: { name: 'ada' } };
    // Keys stored with either fingerprint still replay: both are the SHA-256 of the same text.
    expect(await fingerprintOf(command, 'c1', sha256)).toBe(await fingerprintOf(command, 'c1'));
    hashed.length = 0;
    const store = new MemoryEventStore();
    const bus = commandBus({ Greet: greet }, { middleware: [idempotency(store, { sha256 })] });
    await bus.dispatch(command, { actor: 'c1', idempotencyKey: 'k1' });
    expect(hashed).toHaveLength(1);
    expect(JSON.parse(hashed[0]!)).toEqual({ type: 'Greet', data: { name: 'ada' }, actor: 'c1' });
  });
});
