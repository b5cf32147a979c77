import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Command,
  commandBus,
  type Decider,
  eventSourcedHandler,
  idempotency,
  stateStoredHandler,
  TworoomsError,
  type WriteStore,
} from '../src/core/index.js';
import { MemoryEventStore, type MemoryTables } from '../src/stores/memory/index.js';
import { SqliteEventStore } from '../src/stores/sqlite/index.js';
import { type OrderDrink, tabDecider } from './fixtures/tab.js';

type Deposit = Command<'Deposit', { account: string; amount: number }>;

type DoorCommand = Command<'Open' | 'Close' | 'EnsureOpen', { door: string }>;
type DoorEvent = { type: 'Opened' | 'Closed'; data: { door: string } };
/** Not monotonic (a door opens and closes again), so a stale state can refuse or skip a command. */
const doorDecider: Decider<{ open: boolean }, DoorCommand, DoorEvent> = {
  initialState: () => ({ open: false }),
  evolve: (_state, e) => ({ open: e.type === 'Opened' }),
  decide: (c, state) => {
    const door = c.data.door;
    if (c.type === 'EnsureOpen') return state.open ? [] : { type: 'Opened', data: { door } };
    if ((c.type === 'Open') === state.open) throw new TworoomsError('DOOR', 'conflict', c.type);
    return { type: c.type === 'Open' ? 'Opened' : 'Closed', data: { door } };
  },
};

/** `store` with its log's stream reads counted. */
function countingReads<H>(store: WriteStore<H>): { store: WriteStore<H>; reads: () => number } {
  let reads = 0;
  const log = new Proxy(store.log, {
    get(target, prop) {
      if (prop === 'readStream')
        return (...args: Parameters<typeof target.readStream>) => {
          reads++;
          return target.readStream(...args);
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const wrapped = new Proxy(store, {
    get(target, prop) {
      if (prop === 'log') return log;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: wrapped, reads: () => reads };
}

/** One state-stored handler written twice, once per store handle (as the shop does per dialect). */
function depositFor(store: WriteStore<unknown>, kind: 'memory' | 'sqlite') {
  return stateStoredHandler(store, async (c: Deposit, tx) => {
    if (c.data.amount <= 0)
      throw new TworoomsError('INVALID_AMOUNT', 'validation', 'Deposit something.');
    let balance: number;
    if (kind === 'memory') {
      const db = tx.db as MemoryTables;
      balance = (db.get<number>('balances', c.data.account) ?? 0) + c.data.amount;
      db.set('balances', c.data.account, balance);
    } else {
      const db = tx.db as Database.Database;
      db.prepare(
        'INSERT INTO balances (account, balance) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET balance = balance + excluded.balance',
      ).run(c.data.account, c.data.amount);
      balance = db
        .prepare('SELECT balance FROM balances WHERE account = ?')
        .pluck()
        .get(c.data.account) as number;
    }
    await tx.record(`account-${c.data.account}`, [
      { type: 'Deposited', data: { ...c.data, balance } },
    ]);
    if (c.data.amount === 13) throw new Error('unlucky: after the write, before the commit');
    return { balance };
  });
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const stores = {
  memory: async () => new MemoryEventStore(),
  sqlite: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tworooms-ws-'));
    dirs.push(dir);
    const s = new SqliteEventStore({ path: join(dir, 'write.db') });
    s.db.exec('CREATE TABLE balances (account TEXT PRIMARY KEY, balance INTEGER NOT NULL)');
    return s;
  },
};

const balanceOf = (store: WriteStore<unknown>, kind: 'memory' | 'sqlite', account: string) =>
  kind === 'memory'
    ? (store as MemoryEventStore).tables.get<number>('balances', account)
    : ((store as SqliteEventStore).db
        .prepare('SELECT balance FROM balances WHERE account = ?')
        .pluck()
        .get(account) as number | undefined);

describe.each(['memory', 'sqlite'] as const)('write styles on the same bus (%s)', (kind) => {
  it('a state-stored handler changes its tables and records its events in one transaction', async () => {
    const store = await stores[kind]();
    const bus = commandBus({ Deposit: depositFor(store, kind) });
    const r = await bus.dispatch(
      { type: 'Deposit', data: { account: 'a', amount: 5 } },
      { actor: 'u1' },
    );
    expect(r).toEqual({ balance: 5, position: 1n });
    expect(balanceOf(store, kind, 'a')).toBe(5);
    const { events } = await store.log.readStream('account-a');
    expect(events.map((e) => e.data)).toEqual([{ account: 'a', amount: 5, balance: 5 }]);
    expect(events[0]?.metadata).toMatchObject({ actor: 'u1' });
    expect(events[0]?.metadata.causationId).toBeTypeOf('string');

    // A throw after the write and the record rolls back both.
    await expect(
      bus.dispatch({ type: 'Deposit', data: { account: 'a', amount: 13 } }),
    ).rejects.toThrow('unlucky');
    expect(balanceOf(store, kind, 'a')).toBe(5);
    expect(await store.log.headPosition()).toBe(1n);
    await expect(
      bus.dispatch({ type: 'Deposit', data: { account: 'a', amount: -1 } }),
    ).rejects.toMatchObject({
      code: 'INVALID_AMOUNT',
    });
    await store.close();
  });

  it('an event-sourced handler folds, decides and appends with optimistic concurrency and a bounded retry', async () => {
    const store = await stores[kind]();
    const bus = commandBus({
      OpenTab: eventSourcedHandler(store, {
        decider: tabDecider,
        streamId: (c) => `tab-${c.data.tabId}`,
      }),
      OrderDrink: eventSourcedHandler(store, {
        decider: tabDecider,
        streamId: (c: OrderDrink) => `tab-${c.data.tabId}`,
        result: (state) => ({ totalCents: state.status === 'open' ? state.totalCents : 0 }),
        attempts: 50,
      }),
    });
    await bus.dispatch(
      { type: 'OpenTab', data: { tabId: 't' } },
      { now: new Date('2026-01-01T00:00:00Z') },
    );
    const { events: opened } = await store.log.readStream('tab-t');
    expect(opened[0]?.data).toEqual({ tabId: 't', openedAt: '2026-01-01T00:00:00.000Z' });

    // 20 racing orders on one stream: every one lands (retries), versions stay contiguous.
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        bus.dispatch({ type: 'OrderDrink', data: { tabId: 't', drink: 'tea', priceCents: 100 } }),
      ),
    );
    const { events, streamVersion } = await store.log.readStream('tab-t');
    expect(streamVersion).toBe(21n);
    expect(events.map((e) => e.streamVersion)).toEqual(
      Array.from({ length: 21 }, (_, i) => BigInt(i + 1)),
    );
    expect(results.map((r) => r.totalCents).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => (i + 1) * 100),
    );
    await expect(bus.dispatch({ type: 'OpenTab', data: { tabId: 't' } })).rejects.toMatchObject({
      code: 'TAB_EXISTS',
    });
    await store.close();
  });

  it('an event-sourced handler with nothing else to do in the transaction appends with the command metadata, and a throwing result appends nothing', async () => {
    const store = await stores[kind]();
    let fail = false;
    const bus = commandBus({
      OpenTab: eventSourcedHandler(store, {
        decider: tabDecider,
        streamId: (c) => `tab-${c.data.tabId}`,
        result: () => {
          if (fail) throw new Error('result failed');
          return { opened: true };
        },
      }),
    });
    const r = await bus.dispatch({ type: 'OpenTab', data: { tabId: 'm' } }, { actor: 'u7' });
    const { events } = await store.log.readStream('tab-m');
    expect(r).toEqual({ opened: true, position: events[0]?.position });
    expect(events[0]?.metadata).toMatchObject({ actor: 'u7' });
    expect(events[0]?.metadata.causationId).toBeTypeOf('string');
    expect(events[0]?.metadata.correlationId).toBeTypeOf('string');

    fail = true;
    await expect(bus.dispatch({ type: 'OpenTab', data: { tabId: 'n' } })).rejects.toThrow(
      'result failed',
    );
    expect((await store.log.readStream('tab-n')).streamExists).toBe(false);
    await store.close();
  });

  it('an event-sourced handler decides on the state it cached after its own append, and on the stream as read once another writer appended', async () => {
    const base: WriteStore<unknown> = await stores[kind]();
    const { store, reads } = countingReads(base);
    const door = (cachedStreams?: number) =>
      eventSourcedHandler(store, {
        decider: doorDecider,
        streamId: (c: DoorCommand) => `door-${c.data.door}`,
        result: (state) => ({ open: state.open }),
        ...(cachedStreams === undefined ? {} : { cachedStreams }),
      });
    const handler = door();
    const bus = commandBus({ Open: handler, Close: handler, EnsureOpen: handler });
    const d = { door: 'd' };
    await bus.dispatch({ type: 'Open', data: d });
    expect(await bus.dispatch({ type: 'Close', data: d })).toMatchObject({ open: false });
    await bus.dispatch({ type: 'Open', data: d });
    // The first command read the (empty) stream; the next two decided on the cached state.
    expect(reads()).toBe(1);
    const opened = async () => (await base.log.readStream('door-d')).streamVersion;
    expect(await opened()).toBe(3n);

    // Another writer closes the door: the cached "open" is stale, and Close on it would be
    // refused. The handler decides again on the stream as read, so Open succeeds.
    await base.log.append('door-d', [{ type: 'Closed', data: d }], { expectedVersion: 3n });
    expect(await bus.dispatch({ type: 'Open', data: d })).toMatchObject({ open: true });
    expect(reads()).toBe(2);
    // Stale again (closed behind its back): a stale "open" would decide nothing, unchecked.
    await base.log.append('door-d', [{ type: 'Closed', data: d }], { expectedVersion: 5n });
    await bus.dispatch({ type: 'EnsureOpen', data: d });
    expect(reads()).toBe(3);
    // A stale state that decides events: the append's expected version refuses it, and the
    // command runs again on the stream as read (Closed twice in a row would be wrong).
    await base.log.append('door-d', [{ type: 'Closed', data: d }], { expectedVersion: 7n });
    await expect(bus.dispatch({ type: 'Close', data: d })).rejects.toMatchObject({ code: 'DOOR' });
    expect(reads()).toBe(4);
    const { events } = await base.log.readStream<DoorEvent>('door-d');
    expect(events.map((e) => e.type)).toEqual([
      'Opened',
      'Closed',
      'Opened',
      'Closed',
      'Opened',
      'Closed',
      'Opened',
      'Closed',
    ]);

    // cachedStreams: 0 reads the stream for every command.
    const uncached = door(0);
    const before = reads();
    await uncached(
      { type: 'Open', data: { door: 'e' } },
      { metadata: { commandId: 'c1', correlationId: 'c1', now: new Date() } },
    );
    await uncached(
      { type: 'Close', data: { door: 'e' } },
      { metadata: { commandId: 'c2', correlationId: 'c2', now: new Date() } },
    );
    expect(reads() - before).toBe(2);
    await base.close();
  });

  it('gives up after its attempts when the race keeps being lost', async () => {
    const store = await stores[kind]();
    const order = eventSourcedHandler(store, {
      decider: tabDecider,
      streamId: (c: OrderDrink) => `tab-${c.data.tabId}`,
      attempts: 1,
    });
    const bus = commandBus({
      OpenTab: eventSourcedHandler(store, {
        decider: tabDecider,
        streamId: (c) => `tab-${c.data.tabId}`,
      }),
      OrderDrink: order,
    });
    await bus.dispatch({ type: 'OpenTab', data: { tabId: 't' } });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        bus.dispatch({ type: 'OrderDrink', data: { tabId: 't', drink: 'tea', priceCents: 1 } }),
      ),
    );
    const won = outcomes.filter((o) => o.status === 'fulfilled').length;
    const lost = outcomes.filter(
      (o) => o.status === 'rejected' && (o.reason as TworoomsError).code === 'CONCURRENCY_CONFLICT',
    ).length;
    expect(won).toBeGreaterThanOrEqual(1);
    expect(won + lost).toBe(10);
    expect((await store.log.readStream('tab-t')).streamVersion).toBe(BigInt(1 + won));
    await store.close();
  });

  it('idempotency: same key and payload answer the first result, another payload is refused', async () => {
    const store = await stores[kind]();
    const bus = commandBus(
      { Deposit: depositFor(store, kind) },
      { middleware: [idempotency(store)] },
    );
    const cmd: Deposit = { type: 'Deposit', data: { account: 'a', amount: 7 } };
    const first = await bus.dispatch(cmd, { idempotencyKey: 'k1', actor: 'u1' });
    const again = await bus.dispatch(cmd, { idempotencyKey: 'k1', actor: 'u1' });
    expect(again).toEqual(first);
    expect(first).toEqual({ balance: 7, position: 1n });
    expect(await store.log.headPosition()).toBe(1n);
    expect(balanceOf(store, kind, 'a')).toBe(7);
    await expect(
      bus.dispatch(
        { type: 'Deposit', data: { account: 'a', amount: 8 } },
        { idempotencyKey: 'k1', actor: 'u1' },
      ),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    // the same payload from another actor is another request
    await expect(bus.dispatch(cmd, { idempotencyKey: 'k1', actor: 'u2' })).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    // a failed first attempt stores nothing: the key can be used again
    await expect(
      bus.dispatch(
        { type: 'Deposit', data: { account: 'b', amount: 13 } },
        { idempotencyKey: 'k2' },
      ),
    ).rejects.toThrow('unlucky');
    await expect(
      bus.dispatch(
        { type: 'Deposit', data: { account: 'b', amount: 2 } },
        { idempotencyKey: 'k2' },
      ),
    ).resolves.toEqual({ balance: 2, position: 2n });
    await store.close();
  });

  it('idempotency: concurrent duplicates execute exactly once', async () => {
    const store = await stores[kind]();
    const bus = commandBus(
      { Deposit: depositFor(store, kind) },
      { middleware: [idempotency(store)] },
    );
    const cmd: Deposit = { type: 'Deposit', data: { account: 'a', amount: 1 } };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, () => bus.dispatch(cmd, { idempotencyKey: 'same' })),
    );
    const ok = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const inUse = outcomes.filter(
      (o) =>
        o.status === 'rejected' && (o.reason as TworoomsError).code === 'IDEMPOTENCY_KEY_IN_USE',
    );
    expect(ok.length + inUse.length).toBe(30);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of ok) expect(r).toEqual({ balance: 1, position: 1n });
    expect(balanceOf(store, kind, 'a')).toBe(1);
    expect(await store.log.headPosition()).toBe(1n);
    // once the first has finished, a duplicate gets the first result
    await expect(bus.dispatch(cmd, { idempotencyKey: 'same' })).resolves.toEqual({
      balance: 1,
      position: 1n,
    });
    await store.close();
  });

  it('idempotency: an event-sourced command replays its first result without deciding again', async () => {
    const store = await stores[kind]();
    const bus = commandBus(
      {
        OpenTab: eventSourcedHandler(store, {
          decider: tabDecider,
          streamId: (c) => `tab-${c.data.tabId}`,
        }),
      },
      { middleware: [idempotency(store, { required: ['OpenTab'] })] },
    );
    await expect(bus.dispatch({ type: 'OpenTab', data: { tabId: 'x' } })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    const first = await bus.dispatch(
      { type: 'OpenTab', data: { tabId: 'x' } },
      { idempotencyKey: 'open-x' },
    );
    // deciding again would throw TAB_EXISTS; the replay answers the first result instead
    const again = await bus.dispatch(
      { type: 'OpenTab', data: { tabId: 'x' } },
      { idempotencyKey: 'open-x' },
    );
    expect(again).toEqual(first);
    expect(await store.log.headPosition()).toBe(1n);
    await store.close();
  });
});
