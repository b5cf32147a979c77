import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type ProgressSource, waitFor } from '../src/core/consistency.js';
import type { EventLog } from '../src/core/event-log.js';
import type { Event, RecordedEvent } from '../src/core/messages.js';
import type { Projection } from '../src/core/projection.js';
import { Projector, type ProjectorOptions } from '../src/core/projector.js';
import {
  type MemoryTables,
  memoryEventStore,
  memoryReadStore,
} from '../src/stores/memory/index.js';
import {
  type SqliteReadStore,
  sqliteEventStore,
  sqliteReadStore,
} from '../src/stores/sqlite/index.js';

type EventType = 'Added' | 'Noted' | 'Bad';
type Ev = { type: EventType; data: { n: number } };
interface Totals {
  sum: number;
  count: number;
}

const ev = (type: EventType, n: number): Ev => ({ type, data: { n } });
const nOf = (e: RecordedEvent) => (e.data as { n: number }).n;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The fold every counting projection computes: per stream, the sum of `n` and the count. */
const fold = (
  events: readonly RecordedEvent[],
  handles: readonly string[],
  weight = 1,
): Record<string, Totals> => {
  const out: Record<string, Totals> = {};
  for (const e of events) {
    if (!handles.includes(e.type)) continue;
    const t = out[e.streamId] ?? { sum: 0, count: 0 };
    out[e.streamId] = { sum: t.sum + nOf(e) * weight, count: t.count + 1 };
  }
  return out;
};

const allEvents = async (log: EventLog) =>
  (await log.readAll({ after: 0n, limit: 1_000_000 })).events;

interface CountingOptions {
  readonly handles?: readonly EventType[];
  readonly version?: number;
  /** Multiplies each `n` (a version 2 can fold differently). */
  readonly weight?: number;
  /** Throws this error instead of applying the event (called before each event). */
  readonly failOn?: (e: RecordedEvent) => Error | undefined;
  readonly onApply?: (events: readonly RecordedEvent[]) => void;
  readonly reset?: (db: MemoryTables) => void;
}

/**
 * A counting projection on the memory tables: per stream a sum and a count, plus one row per
 * applied event id (throws on a duplicate, so an event applied twice cannot go unnoticed).
 */
function memoryCounter(name: string, o: CountingOptions = {}): Projection<Event, MemoryTables> {
  return {
    name,
    version: o.version ?? 1,
    handles: o.handles ?? ['Added', 'Noted', 'Bad'],
    ...(o.reset ? { reset: o.reset } : {}),
    apply: (events, db) => {
      o.onApply?.(events);
      for (const e of events) {
        const error = o.failOn?.(e);
        if (error) throw error;
        if (db.get(`${name}:applied`, e.id) !== undefined)
          throw new Error(`${name}: event ${e.position} applied twice`);
        db.set(`${name}:applied`, e.id, e.position);
        const t = db.get<Totals>(`${name}:totals`, e.streamId) ?? { sum: 0, count: 0 };
        db.set(`${name}:totals`, e.streamId, {
          stream: e.streamId,
          sum: t.sum + nOf(e) * (o.weight ?? 1),
          count: t.count + 1,
        });
      }
    },
  };
}

const memoryTotals = (db: MemoryTables, name: string): Record<string, Totals> =>
  Object.fromEntries(
    db
      .rows<Totals & { stream: string }>(`${name}:totals`)
      .map((r) => [r.stream, { sum: r.sum, count: r.count }]),
  );
const memoryApplied = (db: MemoryTables, name: string) =>
  db
    .rows<bigint>(`${name}:applied`)
    .slice()
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** The same counting projection on SQLite. */
function sqliteCounter(
  name: string,
  o: Omit<CountingOptions, 'reset'> = {},
): Projection<Event, Database.Database> {
  return {
    name,
    version: o.version ?? 1,
    handles: o.handles ?? ['Added', 'Noted', 'Bad'],
    setup: (db) =>
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${name}_totals (stream TEXT PRIMARY KEY, sum INTEGER NOT NULL, count INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS ${name}_applied (event_id TEXT PRIMARY KEY, position INTEGER NOT NULL UNIQUE);`,
      ),
    reset: (db) => db.exec(`DELETE FROM ${name}_totals; DELETE FROM ${name}_applied;`),
    apply: (events, db) => {
      o.onApply?.(events);
      for (const e of events) {
        const error = o.failOn?.(e);
        if (error) throw error;
        db.prepare(`INSERT INTO ${name}_applied (event_id, position) VALUES (?, ?)`).run(
          e.id,
          e.position,
        );
        db.prepare(
          `INSERT INTO ${name}_totals (stream, sum, count) VALUES (?, ?, 1)
           ON CONFLICT (stream) DO UPDATE SET sum = sum + excluded.sum, count = count + 1`,
        ).run(e.streamId, nOf(e) * (o.weight ?? 1));
      }
    },
  };
}

/** Reads a SQLite read DB through its own read-only connection: only what was committed. */
function committed(path: string, name: string) {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const totals: Record<string, Totals> = {};
    for (const r of db
      .prepare(`SELECT stream, sum, count FROM ${name}_totals ORDER BY stream`)
      .all() as ({ stream: string } & Totals)[])
      totals[r.stream] = { sum: r.sum, count: r.count };
    const applied = (
      db.prepare(`SELECT position FROM ${name}_applied ORDER BY position`).pluck().all() as number[]
    ).map(BigInt);
    const checkpoint = db
      .prepare('SELECT version, position, status, failure FROM tworooms_checkpoints WHERE name = ?')
      .get(name) as
      | { version: number; position: number; status: string; failure: string | null }
      | undefined;
    return { totals, applied, checkpoint };
  } finally {
    db.close();
  }
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));

/** Appends one event per call, round-robin over streams s-0..s-2; returns the last position. */
async function appendMany(log: EventLog, events: readonly Ev[]): Promise<bigint> {
  let last = 0n;
  for (const [i, e] of events.entries()) last = (await log.append(`s-${i % 3}`, [e])).lastPosition;
  return last;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tworooms-projector-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a projector and stops it after the test. */
async function started<H>(options: ProjectorOptions<H>): Promise<Projector<H>> {
  const p = new Projector(options);
  await p.start();
  cleanups.push(() => p.stop());
  return p;
}

describe('Projector: catch-up, then live', () => {
  const tenEvents = async () => {
    const store = memoryEventStore();
    await appendMany(
      store,
      Array.from({ length: 10 }, (_, i) => ev('Added', i + 1)),
    );
    return store;
  };

  it('catches up on existing events: position 10n, status live', async () => {
    const store = await tenEvents();
    const read = memoryReadStore();
    const p = await started({
      log: store.log,
      store: read,
      projections: [memoryCounter('counter')],
      pollMs: 60_000,
    });
    expect(await p.catchUp(2000)).toEqual({ reached: true });
    expect(p.positionOf('counter')).toBe(10n);
    expect(memoryApplied(read.tables, 'counter')).toEqual(range(1, 10));
    expect(memoryTotals(read.tables, 'counter')).toEqual(fold(await allEvents(store), ['Added']));
    // Caught up, so live: not still catching_up with nothing left to catch up on.
    expect(await p.status()).toEqual([
      {
        name: 'counter',
        version: 1,
        position: 10n,
        headPosition: 10n,
        lag: 0n,
        status: 'live',
      },
    ]);
  });

  it('then follows appends, woken by the log (not by the poll)', async () => {
    const store = await tenEvents();
    const read = memoryReadStore();
    const p = await started({
      log: store.log,
      store: read,
      projections: [memoryCounter('counter')],
      pollMs: 60_000,
    });
    expect(await p.catchUp(2000)).toEqual({ reached: true });
    // Let the runner go to sleep (the poll would only wake it in a minute).
    await until(async () => (await p.status())[0]?.status === 'live');
    await sleep(20);

    const t0 = Date.now();
    const { lastPosition } = await store.append('s-x', [ev('Added', 100), ev('Noted', 1000)]);
    expect(lastPosition).toBe(12n);
    expect(await p.waitFor(lastPosition, ['counter'], 1000)).toEqual({ reached: true });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(memoryTotals(read.tables, 'counter')['s-x']).toEqual({ sum: 1100, count: 2 });
    expect(memoryApplied(read.tables, 'counter')).toEqual(range(1, 12));
    expect((await p.status())[0]).toMatchObject({ position: 12n, headPosition: 12n, lag: 0n });

    // And again, after another idle spell.
    await sleep(20);
    const again = await store.append('s-x', [ev('Added', 1)]);
    expect(await p.waitFor(again.lastPosition, ['counter'], 1000)).toEqual({ reached: true });
    expect(memoryTotals(read.tables, 'counter')['s-x']).toEqual({ sum: 1101, count: 3 });
    expect(memoryApplied(read.tables, 'counter')).toEqual(range(1, 13));
  });

  it('with coalesceMs, reads the log at most once per coalesceMs while live under a stream of appends, and applies each event once', async () => {
    const store = memoryEventStore();
    const read = memoryReadStore();
    const reads: number[] = [];
    let live = false;
    const log: EventLog = {
      append: (streamId, events, options) => store.log.append(streamId, events, options),
      readStream: (streamId, options) => store.log.readStream(streamId, options),
      headPosition: () => store.log.headPosition(),
      onAppended: (listener) => store.log.onAppended(listener),
      readAll: (options) => {
        if (live) reads.push(performance.now());
        return store.log.readAll(options);
      },
    };
    const coalesceMs = 40;
    const p = await started({
      log,
      store: read,
      projections: [memoryCounter('counter')],
      pollMs: 60_000,
      coalesceMs,
    });
    expect(await p.catchUp(2000)).toEqual({ reached: true });
    await until(async () => (await p.status())[0]?.status === 'live');
    live = true;
    // A stream of appends, each awaited: without coalescing, about one batch each.
    const streamed = 60;
    for (let i = 0; i < streamed; i++) {
      await store.append(`s-${i % 3}`, [ev('Added', 1)]);
      if (i % 10 === 9) await sleep(5);
    }
    expect(await p.waitFor(BigInt(streamed), ['counter'], 5000)).toEqual({ reached: true });
    expect(memoryApplied(read.tables, 'counter')).toEqual(range(1, streamed));
    // Reads of the live projection started at least coalesceMs apart (1 ms for timer rounding).
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.length).toBeLessThan(streamed);
    for (const [i, t] of reads.entries())
      if (i > 0) expect(t - reads[i - 1]!).toBeGreaterThanOrEqual(coalesceMs - 1);
  });

  it('is woken by an append that commits between its read of the log and its going to sleep', async () => {
    // A log whose reads take time to answer (as a database over a network would): another
    // writer commits while the answer to the runner's read (nothing new) is on its way, so
    // before the runner is back asleep. That append's wake-up must not be lost (pollMs is a
    // minute). (With the in-process memory and SQLite logs the read answers without yielding,
    // so this window does not open; it does with any log whose readAll awaits I/O.)
    const store = memoryEventStore();
    const read = memoryReadStore();
    await appendMany(store, [ev('Added', 1), ev('Added', 2)]);
    let appendDuringRead: (() => Promise<unknown>) | undefined;
    const log: EventLog = {
      append: (...args) => store.append(...args),
      readStream: (...args) => store.readStream(...args),
      headPosition: () => store.headPosition(),
      onAppended: (listener) => store.onAppended(listener),
      readAll: async (options) => {
        const result = await store.readAll(options);
        if (result.events.length === 0 && appendDuringRead) {
          const racing = appendDuringRead;
          appendDuringRead = undefined;
          await racing();
        }
        return result;
      },
    };
    const p = await started({
      log,
      store: read,
      projections: [memoryCounter('counter')],
      pollMs: 60_000,
    });
    expect(await p.catchUp(2000)).toEqual({ reached: true });
    await sleep(20);
    // The runner is woken by this first append, reads and applies it, reads again (nothing
    // new): the second append commits right then, before the runner is back asleep.
    appendDuringRead = () => store.append('s-x', [ev('Added', 10)]);
    await store.append('s-x', [ev('Added', 5)]);
    expect(await p.waitFor(4n, ['counter'], 1000)).toEqual({ reached: true });
    expect(memoryTotals(read.tables, 'counter')['s-x']).toEqual({ sum: 15, count: 2 });
  });
});

describe('Projector: a batch and its checkpoint commit together (SQLite)', () => {
  it('a throw mid-batch leaves neither the batch rows nor an advanced checkpoint', async () => {
    const dir = tempDir();
    const store = sqliteEventStore({ path: join(dir, 'write.db') });
    cleanups.push(() => store.close());
    const readPath = join(dir, 'read.db');
    const read = sqliteReadStore({ path: readPath });
    cleanups.push(() => read.close());
    // Positions 1..10; 8 is bad. batchSize 5: batch 1..5 commits, batch 6..10 fails at 8.
    await appendMany(store, [
      ...Array.from({ length: 7 }, (_, i) => ev('Added', i + 1)),
      ev('Bad', 0),
      ev('Added', 9),
      ev('Added', 10),
    ]);
    let p: Projector<Database.Database> | undefined;
    let stopping: Promise<void> | undefined;
    const batches: bigint[][] = [];
    let writtenBeforeThrow: number | undefined;
    const projection = sqliteCounter('counter', {
      onApply: (events) => batches.push(events.map((e) => e.position)),
      failOn: (e) => {
        if (e.type !== 'Bad') return undefined;
        // Inside the failing transaction: 6 and 7 are written (uncommitted) at this point.
        writtenBeforeThrow = read.db
          .prepare('SELECT count(*) FROM counter_applied')
          .pluck()
          .get() as number;
        // Stop the projector so it does not go on (one event per transaction) after the
        // rollback: what is left in the file is exactly the rolled-back state.
        stopping = p?.stop();
        return new Error('bad event');
      },
    });
    p = new Projector({ log: store.log, store: read, projections: [projection], batchSize: 5 });
    await p.start();
    await sleep(0);
    await waitUntil(() => stopping !== undefined, 2000);
    await stopping;

    expect(batches).toEqual([range(1, 5), range(6, 10)]);
    expect(writtenBeforeThrow).toBe(7);
    const state = committed(readPath, 'counter');
    expect(state.checkpoint).toEqual({
      version: 1,
      position: 5,
      status: 'running',
      failure: null,
    });
    expect(state.applied).toEqual(range(1, 5));
    expect(state.totals).toEqual(
      fold((await allEvents(store)).slice(0, 5), ['Added', 'Noted', 'Bad']),
    );
    // Nothing from the failed batch on the store's own connection either, and no open transaction.
    expect(read.db.inTransaction).toBe(false);
    expect(read.db.prepare('SELECT count(*) FROM counter_applied').pluck().get()).toBe(5);

    // Restarted with the bad event fixed, the rolled-back batch is applied, exactly once.
    const fixed = await started({
      log: store.log,
      store: read,
      projections: [sqliteCounter('counter')],
      batchSize: 5,
    });
    expect(await fixed.catchUp(2000)).toEqual({ reached: true });
    const after = committed(readPath, 'counter');
    expect(after.checkpoint).toMatchObject({ position: 10, status: 'running' });
    expect(after.applied).toEqual(range(1, 10));
    expect(after.totals).toEqual(fold(await allEvents(store), ['Added', 'Noted', 'Bad']));
  });
});

async function until(condition: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('until: timed out');
    await sleep(2);
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('waitUntil: timed out');
    await sleep(2);
  }
}

describe('Projector: failure isolation (SQLite)', () => {
  it('stops a failing projection as failed, keeps the others going, survives a restart, retries', async () => {
    const dir = tempDir();
    const store = sqliteEventStore({ path: join(dir, 'write.db') });
    cleanups.push(() => store.close());
    const readPath = join(dir, 'read.db');
    let read: SqliteReadStore = sqliteReadStore({ path: readPath });
    cleanups.push(() => read.close());

    // 1..4 good, 5 bad, 6..8 good: one batch (batchSize 100), the bad event in the middle.
    await appendMany(store, [
      ev('Added', 1),
      ev('Noted', 2),
      ev('Added', 3),
      ev('Added', 4),
      ev('Bad', 5),
      ev('Added', 6),
      ev('Noted', 7),
      ev('Added', 8),
    ]);
    const events = await allEvents(store);
    const bad = events[4]!;
    expect(bad.position).toBe(5n);
    const head = await store.headPosition();
    expect(head).toBe(8n);

    let broken = true;
    const errors: [string, string, number][] = [];
    const projections = () => [
      sqliteCounter('A', {
        failOn: (e) =>
          broken && e.type === 'Bad' ? new Error(`A cannot take ${e.type}`) : undefined,
      }),
      sqliteCounter('B'),
    ];
    const options = () => ({
      log: store.log,
      projections: projections(),
      batchSize: 100,
      attempts: 3,
      baseDelayMs: 1,
      onError: (name: string, error: unknown, attempt: number) =>
        errors.push([name, (error as Error).message, attempt]),
    });

    const p = new Projector({ ...options(), store: read });
    await p.start();
    const t0 = Date.now();
    const outcome = await p.waitFor(head, ['A'], 500);
    const waited = Date.now() - t0;
    expect(outcome).toEqual({ reached: false, reason: 'failed', positions: { A: 4n } });
    expect(waited).toBeLessThan(400);
    expect(await p.waitFor(head, ['B'], 2000)).toEqual({ reached: true });

    expect(errors).toEqual([
      ['A', 'A cannot take Bad', 1],
      ['A', 'A cannot take Bad', 2],
      ['A', 'A cannot take Bad', 3],
    ]);
    const [a, b] = await p.status();
    expect(a).toMatchObject({
      name: 'A',
      position: 4n,
      headPosition: 8n,
      lag: 4n,
      status: 'failed',
      failure: {
        position: 5n,
        eventId: bad.id,
        eventType: 'Bad',
        error: expect.stringContaining('A cannot take Bad'),
        attempts: 3,
      },
    });
    expect(a?.failure?.at).toBeInstanceOf(Date);
    expect(b).toMatchObject({ name: 'B', position: 8n, lag: 0n });
    expect(b?.failure).toBeUndefined();
    // A applied the good events before the bad one (same batch), and nothing after it.
    const aState = committed(readPath, 'A');
    expect(aState.applied).toEqual(range(1, 4));
    expect(aState.totals).toEqual(fold(events.slice(0, 4), ['Added', 'Noted', 'Bad']));
    expect(aState.checkpoint).toMatchObject({ position: 4, status: 'failed' });
    expect(JSON.parse(aState.checkpoint?.failure ?? '{}')).toMatchObject({
      position: '5',
      eventId: bad.id,
      eventType: 'Bad',
      attempts: 3,
    });
    const bState = committed(readPath, 'B');
    expect(bState.applied).toEqual(range(1, 8));
    expect(bState.totals).toEqual(fold(events, ['Added', 'Noted', 'Bad']));
    expect(p.isFailed('A')).toBe(true);
    expect(p.isFailed('B')).toBe(false);
    await p.stop();
    expect((await p.status()).map((s) => s.status)).toEqual(['failed', 'stopped']);
    await read.close();

    // A restart (new read store on the same file, new projector) loads A as failed.
    read = sqliteReadStore({ path: readPath });
    const p2 = await started({ ...options(), store: read });
    const [a2, b2] = await p2.status();
    expect(a2).toMatchObject({
      name: 'A',
      position: 4n,
      status: 'failed',
      failure: {
        position: 5n,
        eventId: bad.id,
        eventType: 'Bad',
        error: expect.stringContaining('A cannot take Bad'),
        attempts: 3,
      },
    });
    expect(a2?.failure?.at).toBeInstanceOf(Date);
    expect(a2?.failure?.at.getTime()).toBe(a?.failure?.at.getTime());
    expect(b2).toMatchObject({ name: 'B', position: 8n });
    const t1 = Date.now();
    expect(await p2.waitFor(head, ['A'], 500)).toEqual({
      reached: false,
      reason: 'failed',
      positions: { A: 4n },
    });
    expect(Date.now() - t1).toBeLessThan(400);
    // Still failed after new appends (B follows them).
    const more = await store.append('s-1', [ev('Added', 9)]);
    expect(await p2.waitFor(more.lastPosition, ['B'], 2000)).toEqual({ reached: true });
    expect(p2.isFailed('A')).toBe(true);
    expect(committed(readPath, 'A').checkpoint).toMatchObject({ position: 4, status: 'failed' });

    // Fixed, then retried: A reaches the head.
    broken = false;
    await p2.retry('A');
    expect(await p2.waitFor(more.lastPosition, ['A'], 2000)).toEqual({ reached: true });
    const [a3] = await p2.status();
    expect(a3).toMatchObject({ name: 'A', position: 9n, lag: 0n });
    expect(a3?.status).not.toBe('failed');
    expect(a3?.failure).toBeUndefined();
    const fixed = committed(readPath, 'A');
    expect(fixed.checkpoint).toMatchObject({ position: 9, status: 'running', failure: null });
    expect(fixed.applied).toEqual(range(1, 9));
    expect(fixed.totals).toEqual(fold(await allEvents(store), ['Added', 'Noted', 'Bad']));
  });
});

describe('Projector: transient failures', () => {
  it('retries a failing event with back-off and recovers (one event per batch)', async () => {
    const store = memoryEventStore();
    const read = memoryReadStore();
    await appendMany(store, [ev('Added', 1), ev('Added', 2), ev('Added', 3), ev('Added', 4)]);
    const calls: { position: bigint; at: number }[] = [];
    let throwsLeft = 2;
    const errors: number[] = [];
    const p = new Projector({
      log: store.log,
      store: read,
      projections: [
        memoryCounter('T', {
          onApply: (events) => {
            for (const e of events) calls.push({ position: e.position, at: performance.now() });
          },
          failOn: (e) =>
            e.position === 3n && throwsLeft-- > 0 ? new Error('transient') : undefined,
        }),
      ],
      batchSize: 1,
      attempts: 3,
      baseDelayMs: 25,
      onError: (_name, _error, attempt) => errors.push(attempt),
    });
    const failedSeen: boolean[] = [];
    p.onProgress(() => failedSeen.push(p.isFailed('T')));
    await p.start();
    cleanups.push(() => p.stop());
    expect(await p.catchUp(2000)).toEqual({ reached: true });

    expect(errors).toEqual([1, 2]);
    const third = calls.filter((c) => c.position === 3n);
    expect(third).toHaveLength(3);
    const [first, second, last] = third.map((c) => c.at) as [number, number, number];
    // Back-off: 25 ms, then 50 ms (timers may fire a hair early).
    expect(second - first).toBeGreaterThanOrEqual(23);
    expect(last - second).toBeGreaterThanOrEqual(48);
    expect(calls.map((c) => c.position)).toEqual([1n, 2n, 3n, 3n, 3n, 4n]);
    expect(failedSeen).not.toContain(true);
    expect((await p.status())[0]).toMatchObject({ position: 4n, lag: 0n });
    expect((await p.status())[0]?.status).not.toBe('failed');
    expect((await p.status())[0]?.failure).toBeUndefined();
    expect(memoryApplied(read.tables, 'T')).toEqual(range(1, 4));
    expect(memoryTotals(read.tables, 'T')).toEqual(fold(await allEvents(store), ['Added']));
    expect(read.tables.get('$checkpoints', 'T')).toMatchObject({
      position: 4n,
      status: 'running',
    });
  });

  it('recovers from a transient failure mid-batch, applying every event exactly once', async () => {
    const store = memoryEventStore();
    const read = memoryReadStore();
    await appendMany(
      store,
      Array.from({ length: 8 }, (_, i) => ev(i % 3 === 2 ? 'Noted' : 'Added', i + 1)),
    );
    const applyCalls: bigint[][] = [];
    let throwsLeft = 2;
    const errors: number[] = [];
    const p = new Projector({
      log: store.log,
      store: read,
      projections: [
        memoryCounter('T', {
          onApply: (events) => applyCalls.push(events.map((e) => e.position)),
          failOn: (e) =>
            e.position === 5n && throwsLeft-- > 0 ? new Error('transient') : undefined,
        }),
      ],
      batchSize: 100,
      attempts: 3,
      baseDelayMs: 5,
      onError: (_name, _error, attempt) => errors.push(attempt),
    });
    const failedSeen: boolean[] = [];
    p.onProgress(() => failedSeen.push(p.isFailed('T')));
    await p.start();
    cleanups.push(() => p.stop());
    expect(await p.catchUp(2000)).toEqual({ reached: true });

    expect(throwsLeft).toBeLessThanOrEqual(0);
    expect(failedSeen).not.toContain(true);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.length).toBeLessThan(3);
    // Each event appears in exactly one batch that committed: the applied-id table has each
    // position once (a second application would have thrown) and the counts match the log.
    expect(memoryApplied(read.tables, 'T')).toEqual(range(1, 8));
    expect(memoryTotals(read.tables, 'T')).toEqual(
      fold(await allEvents(store), ['Added', 'Noted', 'Bad']),
    );
    expect((await p.status())[0]).toMatchObject({ position: 8n, lag: 0n });
    expect(applyCalls[0]).toEqual(range(1, 8));
  });
});

describe('Projector: status()', () => {
  it('reports name, version, position, head, lag and status for each projection', async () => {
    const store = memoryEventStore();
    const read = memoryReadStore();
    await appendMany(store, [
      ev('Added', 1),
      ev('Noted', 2),
      ev('Added', 3),
      ev('Added', 4),
      ev('Noted', 5),
      ev('Noted', 6),
    ]);
    const p = new Projector({
      log: store.log,
      store: read,
      projections: [
        memoryCounter('everything', { version: 1 }),
        memoryCounter('added', { version: 3, handles: ['Added'] }),
        memoryCounter('bad', {
          version: 2,
          failOn: (e) => (e.position === 3n ? new Error('no') : undefined),
        }),
      ],
      attempts: 1,
      batchSize: 2,
    });
    cleanups.push(() => p.stop());
    expect(await p.status()).toEqual([
      {
        name: 'everything',
        version: 1,
        position: 0n,
        headPosition: 6n,
        lag: 6n,
        status: 'starting',
      },
      { name: 'added', version: 3, position: 0n, headPosition: 6n, lag: 6n, status: 'starting' },
      { name: 'bad', version: 2, position: 0n, headPosition: 6n, lag: 6n, status: 'starting' },
    ]);
    await p.start();
    expect(await p.catchUp(2000, ['everything', 'added'])).toEqual({ reached: true });
    expect(await p.waitFor(6n, ['bad'], 2000)).toMatchObject({ reason: 'failed' });
    // (Right after catchUp a runner can still say catching_up: see the catch-up test above.)
    await until(async () =>
      (await p.status()).every((s) => s.status === 'live' || s.status === 'failed'),
    );
    const live = await p.status();
    expect(live).toEqual([
      { name: 'everything', version: 1, position: 6n, headPosition: 6n, lag: 0n, status: 'live' },
      { name: 'added', version: 3, position: 6n, headPosition: 6n, lag: 0n, status: 'live' },
      {
        name: 'bad',
        version: 2,
        position: 2n,
        headPosition: 6n,
        lag: 4n,
        status: 'failed',
        failure: {
          position: 3n,
          eventId: (await allEvents(store))[2]?.id,
          eventType: 'Added',
          error: 'no',
          attempts: 1,
          at: expect.any(Date),
        },
      },
    ]);

    await p.stop();
    await appendMany(store, [ev('Added', 7), ev('Noted', 8), ev('Added', 9)]);
    expect(await p.status()).toEqual([
      {
        name: 'everything',
        version: 1,
        position: 6n,
        headPosition: 9n,
        lag: 3n,
        status: 'stopped',
      },
      { name: 'added', version: 3, position: 6n, headPosition: 9n, lag: 3n, status: 'stopped' },
      expect.objectContaining({ name: 'bad', position: 2n, lag: 7n, status: 'failed' }),
    ]);
  });
});

describe('Projector: version bump', () => {
  it('resets and rebuilds from 0 a projection whose stored version differs', async () => {
    const store = memoryEventStore();
    const read = memoryReadStore();
    await appendMany(
      store,
      Array.from({ length: 7 }, (_, i) => ev(i % 2 ? 'Noted' : 'Added', i + 1)),
    );
    const v1 = new Projector({
      log: store.log,
      store: read,
      projections: [memoryCounter('catalog', { version: 1, handles: ['Added'] })],
      batchSize: 3,
    });
    await v1.start();
    expect(await v1.catchUp(2000)).toEqual({ reached: true });
    await v1.stop();
    expect(read.tables.get('$checkpoints', 'catalog')).toMatchObject({ version: 1, position: 7n });
    expect(memoryTotals(read.tables, 'catalog')).toEqual(fold(await allEvents(store), ['Added']));

    // Version 2 handles both types and weighs n by 10: only a rebuild from 0 gives its fold.
    let resets = 0;
    const firstBatches: bigint[][] = [];
    const reset = (db: MemoryTables) => {
      resets++;
      db.clear('catalog:totals');
      db.clear('catalog:applied');
    };
    const v2 = () =>
      memoryCounter('catalog', {
        version: 2,
        handles: ['Added', 'Noted'],
        weight: 10,
        reset,
        onApply: (events) => firstBatches.push(events.map((e) => e.position)),
      });
    const p = await started({ log: store.log, store: read, projections: [v2()], batchSize: 3 });
    expect(await p.catchUp(2000)).toEqual({ reached: true });
    expect(resets).toBe(1);
    expect(firstBatches[0]?.[0]).toBe(1n);
    expect(memoryApplied(read.tables, 'catalog')).toEqual(range(1, 7));
    expect(memoryTotals(read.tables, 'catalog')).toEqual(
      fold(await allEvents(store), ['Added', 'Noted'], 10),
    );
    expect(read.tables.get('$checkpoints', 'catalog')).toMatchObject({
      name: 'catalog',
      version: 2,
      position: 7n,
      status: 'running',
    });
    expect((await p.status())[0]).toMatchObject({ version: 2, position: 7n, lag: 0n });
    await p.stop();

    // Same version again: no reset, no rebuild.
    firstBatches.length = 0;
    const again = await started({ log: store.log, store: read, projections: [v2()] });
    expect(await again.catchUp(2000)).toEqual({ reached: true });
    expect(resets).toBe(1);
    expect(firstBatches).toEqual([]);
    await again.stop();

    // A version change without reset() refuses to start.
    const noReset = new Projector({
      log: store.log,
      store: read,
      projections: [memoryCounter('catalog', { version: 3 })],
    });
    await expect(noReset.start()).rejects.toThrow(/changed version but has no reset/);
  });
});

class FakeProgress implements ProgressSource {
  readonly positions = new Map<string, bigint>();
  readonly failed = new Set<string>();
  readonly listeners = new Set<() => void>();
  positionOf(projection: string): bigint | undefined {
    return this.positions.get(projection);
  }
  isFailed(projection: string): boolean {
    return this.failed.has(projection);
  }
  onProgress(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
  move(projection: string, position: bigint): void {
    this.positions.set(projection, position);
    for (const l of [...this.listeners]) l();
  }
  fail(projection: string): void {
    this.failed.add(projection);
    for (const l of [...this.listeners]) l();
  }
}

/** Tracks when a promise settles (and that it never rejects). */
function track<T>(promise: Promise<T>) {
  const t = {
    settled: false,
    rejected: false,
    value: undefined as T | undefined,
    done: promise.then(
      (v) => {
        t.settled = true;
        t.value = v;
        return v;
      },
      (e: unknown) => {
        t.settled = true;
        t.rejected = true;
        throw e;
      },
    ),
  };
  return t;
}

describe('waitFor', () => {
  it('resolves at once when every projection is already there', async () => {
    const src = new FakeProgress();
    src.positions.set('a', 5n);
    src.positions.set('b', 9n);
    const w = track(waitFor(src, 5n, ['a', 'b'], 1000));
    await Promise.resolve();
    expect(w.settled).toBe(true);
    expect(await w.done).toEqual({ reached: true });
    expect(src.listeners.size).toBe(0);
    expect(await waitFor(src, 1n, [], 1000)).toEqual({ reached: true });
  });

  it('resolves when the projections make it there', async () => {
    const src = new FakeProgress();
    src.positions.set('a', 1n);
    src.positions.set('b', 7n);
    const t0 = Date.now();
    const w = track(waitFor(src, 5n, ['a', 'b'], 1000));
    await sleep(5);
    src.move('a', 4n);
    await sleep(5);
    expect(w.settled).toBe(false);
    expect(src.listeners.size).toBe(1);
    src.move('a', 5n);
    expect(await w.done).toEqual({ reached: true });
    expect(Date.now() - t0).toBeLessThan(500);
    expect(src.listeners.size).toBe(0);
  });

  it('times out with reason timeout and where each projection stood then', async () => {
    const src = new FakeProgress();
    src.positions.set('a', 1n);
    const t0 = performance.now();
    const w = track(waitFor(src, 5n, ['a', 'b'], 50));
    await sleep(10);
    src.move('a', 3n);
    await sleep(25);
    expect(w.settled).toBe(false);
    const outcome = await w.done;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(40);
    expect(outcome).toStrictEqual({
      reached: false,
      reason: 'timeout',
      positions: { a: 3n, b: undefined },
    });
    expect(w.rejected).toBe(false);
    expect(src.listeners.size).toBe(0);
  });

  it('ends at once with reason failed when a projection behind the position has failed', async () => {
    const src = new FakeProgress();
    src.positions.set('a', 3n);
    src.positions.set('b', 2n);
    src.failed.add('a');
    const t0 = Date.now();
    expect(await waitFor(src, 5n, ['a', 'b'], 1000)).toStrictEqual({
      reached: false,
      reason: 'failed',
      positions: { a: 3n, b: 2n },
    });
    expect(Date.now() - t0).toBeLessThan(100);
    // A failed projection that is already past the position does not stop the wait.
    expect(await waitFor(src, 3n, ['a'], 1000)).toEqual({ reached: true });

    // A failure during the wait ends it.
    const w = track(waitFor(src, 5n, ['b'], 1000));
    await sleep(5);
    expect(w.settled).toBe(false);
    src.fail('b');
    expect(await w.done).toStrictEqual({
      reached: false,
      reason: 'failed',
      positions: { b: 2n },
    });
    expect(src.listeners.size).toBe(0);
  });

  it('never rejects, even with a source that reports to a listener as it subscribes', async () => {
    // E.g. a source built on shared checkpoints that replays the current state to a newcomer.
    class EagerProgress extends FakeProgress {
      override onProgress(listener: () => void): () => void {
        const unsubscribe = super.onProgress(listener);
        listener();
        return unsubscribe;
      }
    }
    const src = new EagerProgress();
    src.positions.set('a', 2n);
    src.failed.add('a');
    const w = track(waitFor(src, 5n, ['a'], 100));
    await w.done.catch(() => undefined);
    expect(w.rejected).toBe(false);
    expect(w.value).toStrictEqual({ reached: false, reason: 'failed', positions: { a: 2n } });
    expect(src.listeners.size).toBe(0);
  });

  it('never rejects: an unknown projection just times out', async () => {
    const src = new FakeProgress();
    const w = track(waitFor(src, 1n, ['nobody'], 10));
    expect(await w.done).toStrictEqual({
      reached: false,
      reason: 'timeout',
      positions: { nobody: undefined },
    });
    expect(w.rejected).toBe(false);
  });
});
