/**
 * Property: whatever happens to the projector (appends, clean restarts, crashes between batches
 * or in the middle of a batch), the read model is always exactly the fold of the events up to
 * the stored checkpoint, and after a final start + catch-up it is the fold of the whole log, with
 * every event applied exactly once. Run on the SQLite stores and on the memory stores.
 *
 * How a crash is modelled. A crash loses the transaction in flight and the process's loops.
 * Each projector incarnation is a "generation" and goes through a guarded read store:
 * - at the crash point the generation is marked dead; from then on its projections' `apply` and
 *   every transaction it opens throw before commit, so nothing it does after that point commits
 *   (the transaction in flight is rolled back: the "lost" transaction);
 * - its loops are ended with `stop()` (the only way to end them from outside), which cannot
 *   commit anything any more, and awaited before the next generation starts;
 * - for SQLite the read store is then closed and a NEW SqliteReadStore opened on the same file,
 *   so the next generation sees only what reached the file. (The memory read store stays: it
 *   plays a durable store; its journal rolled the lost transaction back.)
 * A mid-batch crash is a throw on a chosen event of the next batch (after the events before it
 * in that batch were written in the transaction), exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventLog } from '../src/core/event-log.js';
import type { Event, RecordedEvent } from '../src/core/messages.js';
import type { Projection, ReadStore } from '../src/core/projection.js';
import { Projector } from '../src/core/projector.js';
import {
  MemoryEventStore,
  MemoryReadStore,
  type MemoryTables,
} from '../src/stores/memory/index.js';
import { SqliteEventStore, SqliteReadStore } from '../src/stores/sqlite/index.js';

type EventType = 'Added' | 'Noted';
interface Spec {
  readonly name: string;
  readonly handles: readonly EventType[];
}
/** `all` sees every event; `added` only `Added` (its checkpoint also moves past `Noted` events). */
const SPECS: readonly Spec[] = [
  { name: 'all', handles: ['Added', 'Noted'] },
  { name: 'added', handles: ['Added'] },
];
const BATCH_SIZE = 3;

class Crashed extends Error {
  override name = 'Crashed';
}

interface Totals {
  sum: number;
  count: number;
}

/** What is committed for one projection. */
interface Snapshot {
  readonly totals: Map<string, Totals>;
  /** event id -> position, one row per applied event (PRIMARY KEY on the id). */
  readonly applied: Map<string, bigint>;
  readonly checkpoint: { position: bigint; status: string; version: number } | undefined;
}

/** A backend: the event log, the current read store, how a projection writes, how to inspect. */
interface Backend<H> {
  readonly log: EventLog;
  readonly store: ReadStore<H>;
  /** After a crash: the process is gone; open the read store again. */
  reopen(): Promise<void>;
  setup(db: H, name: string): void;
  /** Records the event id (throws on a duplicate) and folds the event into its stream's totals. */
  applyOne(db: H, name: string, e: RecordedEvent): void;
  snapshot(name: string): Snapshot;
  dispose(): Promise<void>;
}

interface Stats {
  duplicates: string[];
  crashes: number;
  /** Crashes where events before the crash point had been written in the lost transaction. */
  midBatchCrashes: number;
  restarts: number;
}

class DuplicateApplication extends Error {}

function sqliteBackend(): Backend<Database.Database> {
  const dir = mkdtempSync(join(tmpdir(), 'tworooms-prop-'));
  const writePath = join(dir, 'write.db');
  const readPath = join(dir, 'read.db');
  const events = new SqliteEventStore({ path: writePath });
  let store = new SqliteReadStore({ path: readPath });
  return {
    log: events.log,
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = new SqliteReadStore({ path: readPath });
    },
    setup(db, name) {
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${name}_totals (stream TEXT PRIMARY KEY, sum INTEGER NOT NULL, count INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS ${name}_applied (event_id TEXT PRIMARY KEY, position INTEGER NOT NULL UNIQUE);`,
      );
    },
    applyOne(db, name, e) {
      try {
        db.prepare(`INSERT INTO ${name}_applied (event_id, position) VALUES (?, ?)`).run(
          e.id,
          e.position,
        );
      } catch (error) {
        if ((error as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT'))
          throw new DuplicateApplication(`${name}: event ${e.position} applied twice`);
        throw error;
      }
      db.prepare(
        `INSERT INTO ${name}_totals (stream, sum, count) VALUES (?, ?, 1)
         ON CONFLICT (stream) DO UPDATE SET sum = sum + excluded.sum, count = count + 1`,
      ).run(e.streamId, (e.data as { n: number }).n);
    },
    snapshot(name) {
      // A separate connection: it sees only what was committed to the file.
      const db = new Database(readPath, { readonly: true, fileMustExist: true });
      try {
        db.defaultSafeIntegers(true);
        const totals = new Map(
          (
            db.prepare(`SELECT stream, sum, count FROM ${name}_totals`).all() as {
              stream: string;
              sum: bigint;
              count: bigint;
            }[]
          ).map((r) => [r.stream, { sum: Number(r.sum), count: Number(r.count) }]),
        );
        const applied = new Map(
          (
            db.prepare(`SELECT event_id, position FROM ${name}_applied`).all() as {
              event_id: string;
              position: bigint;
            }[]
          ).map((r) => [r.event_id, r.position]),
        );
        const row = db
          .prepare('SELECT position, status, version FROM tworooms_checkpoints WHERE name = ?')
          .get(name) as { position: bigint; status: string; version: bigint } | undefined;
        const checkpoint = row
          ? { position: row.position, status: row.status, version: Number(row.version) }
          : undefined;
        return { totals, applied, checkpoint };
      } finally {
        db.close();
      }
    },
    async dispose() {
      try {
        await store.close();
        await events.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function memoryBackend(): Backend<MemoryTables> {
  const events = new MemoryEventStore();
  const store = new MemoryReadStore();
  return {
    log: events.log,
    store,
    async reopen() {},
    setup() {},
    applyOne(db, name, e) {
      if (db.get(`${name}:applied`, e.id) !== undefined)
        throw new DuplicateApplication(`${name}: event ${e.position} applied twice`);
      db.set(`${name}:applied`, e.id, { id: e.id, position: e.position });
      const before = db.get<Totals & { stream: string }>(`${name}:totals`, e.streamId);
      db.set(`${name}:totals`, e.streamId, {
        stream: e.streamId,
        sum: (before?.sum ?? 0) + (e.data as { n: number }).n,
        count: (before?.count ?? 0) + 1,
      });
    },
    snapshot(name) {
      const t = store.tables;
      const totals = new Map(
        t
          .rows<Totals & { stream: string }>(`${name}:totals`)
          .map((r) => [r.stream, { sum: r.sum, count: r.count }]),
      );
      const applied = new Map(
        t.rows<{ id: string; position: bigint }>(`${name}:applied`).map((r) => [r.id, r.position]),
      );
      const cp = t.get<{ position: bigint; status: string; version: number }>('$checkpoints', name);
      const checkpoint = cp
        ? { position: cp.position, status: cp.status, version: cp.version }
        : undefined;
      return { totals, applied, checkpoint };
    },
    async dispose() {
      await store.close();
      await events.close();
    },
  };
}

/** One projector incarnation ("process"). */
interface Generation<H> {
  readonly id: number;
  dead: boolean;
  projector: Projector<H> | undefined;
  /** Armed by a mid-batch crash command: throw on the event at `index` of the next batch. */
  crash: { projection: string; index: number; fired: () => void } | undefined;
  stopping: Promise<void> | undefined;
}

/** The crash point: nothing this generation does from now on may commit; its loops end. */
function kill<H>(gen: Generation<H>): void {
  gen.dead = true;
  gen.stopping ??= gen.projector?.stop();
}

/** The read store as one generation sees it: once the generation is dead, no commit. */
function guarded<H>(inner: ReadStore<H>, gen: Generation<H>): ReadStore<H> {
  return {
    setup: (projections) => inner.setup(projections),
    loadCheckpoints: () => inner.loadCheckpoints(),
    transact: (fn) =>
      inner.transact(async (tx) => {
        if (gen.dead) throw new Crashed(`generation ${gen.id} is dead`);
        const result = await fn(tx);
        if (gen.dead) throw new Crashed(`generation ${gen.id} died in this transaction`);
        return result;
      }),
    close: () => inner.close(),
  };
}

function projectionFor<H>(
  backend: Backend<H>,
  spec: Spec,
  gen: Generation<H>,
  stats: Stats,
): Projection<Event, H> {
  return {
    name: spec.name,
    version: 1,
    handles: spec.handles,
    setup: (db) => backend.setup(db, spec.name),
    apply: (events, db) => {
      if (gen.dead) throw new Crashed(`generation ${gen.id} is dead`);
      const crash = gen.crash?.projection === spec.name ? gen.crash : undefined;
      const crashAt = crash ? Math.min(crash.index, events.length - 1) : -1;
      events.forEach((e, i) => {
        if (crash && i === crashAt) {
          gen.crash = undefined;
          stats.crashes++;
          if (i > 0) stats.midBatchCrashes++;
          kill(gen);
          crash.fired();
          throw new Crashed(`crash at event ${e.position} (index ${i} of ${events.length})`);
        }
        try {
          backend.applyOne(db, spec.name, e);
        } catch (error) {
          if (error instanceof DuplicateApplication) stats.duplicates.push(error.message);
          throw error;
        }
      });
    },
  };
}

const foldOf = (events: readonly RecordedEvent[], spec: Spec, upTo: bigint) => {
  const totals = new Map<string, Totals>();
  const applied = new Map<string, bigint>();
  for (const e of events) {
    if (e.position > upTo || !spec.handles.includes(e.type as EventType)) continue;
    applied.set(e.id, e.position);
    const t = totals.get(e.streamId) ?? { sum: 0, count: 0 };
    totals.set(e.streamId, { sum: t.sum + (e.data as { n: number }).n, count: t.count + 1 });
  }
  return { totals, applied };
};

const allEvents = async (log: EventLog) =>
  (await log.readAll({ after: 0n, limit: 1_000_000 })).events;

/** Committed read model == fold of the log up to the committed checkpoint, for every projection. */
async function expectCommittedConsistent<H>(backend: Backend<H>, context: string) {
  const events = await allEvents(backend.log);
  for (const spec of SPECS) {
    const snap = backend.snapshot(spec.name);
    const upTo = snap.checkpoint?.position ?? 0n;
    const expected = foldOf(events, spec, upTo);
    expect(snap.applied, `${context}: ${spec.name} applied ids up to ${upTo}`).toEqual(
      expected.applied,
    );
    expect(snap.totals, `${context}: ${spec.name} totals up to ${upTo}`).toEqual(expected.totals);
  }
}

type Cmd =
  | {
      kind: 'append';
      stream: number;
      events: { type: EventType; n: number }[];
      parallel: boolean;
    }
  | { kind: 'restart' }
  | { kind: 'crashNow' }
  | {
      kind: 'crashMidBatch';
      projection: string;
      index: number;
      stream: number;
      events: { type: EventType; n: number }[];
    }
  | { kind: 'catchUp' };

const eventArb = fc.record({
  type: fc.constantFrom<EventType>('Added', 'Noted'),
  n: fc.integer({ min: -100, max: 100 }),
});
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      stream: fc.nat(3),
      events: fc.array(eventArb, { minLength: 1, maxLength: 8 }),
      parallel: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'crashNow' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('crashMidBatch' as const),
      projection: fc.constantFrom(...SPECS.map((s) => s.name)),
      index: fc.integer({ min: 0, max: BATCH_SIZE - 1 }),
      stream: fc.nat(3),
      events: fc.array(eventArb, { minLength: 2, maxLength: 6 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'catchUp' as const }) },
);
const scenarioArb = fc.array(cmdArb, { minLength: 1, maxLength: 20 });

const append = async (
  log: EventLog,
  stream: number,
  events: readonly { type: EventType; n: number }[],
  parallel: boolean,
) => {
  const toEvent = (e: { type: EventType; n: number }) => ({ type: e.type, data: { n: e.n } });
  if (parallel) await Promise.all(events.map((e) => log.append(`s-${stream}`, [toEvent(e)])));
  else await log.append(`s-${stream}`, events.map(toEvent));
};

/** Resolves 'fired' when `promise` does, or 'timeout' after `ms` (the timer is cleared). */
const within = async (promise: Promise<unknown>, ms: number): Promise<'fired' | 'timeout'> => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise.then(() => 'fired' as const),
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

async function runScenario<H>(backend: Backend<H>, cmds: readonly Cmd[], stats: Stats) {
  let generations = 0;
  const startGeneration = async (): Promise<Generation<H>> => {
    const gen: Generation<H> = {
      id: ++generations,
      dead: false,
      projector: undefined,
      crash: undefined,
      stopping: undefined,
    };
    gen.projector = new Projector<H>({
      log: backend.log,
      store: guarded(backend.store, gen),
      projections: SPECS.map((spec) => projectionFor(backend, spec, gen, stats)),
      batchSize: BATCH_SIZE,
      attempts: 10,
      baseDelayMs: 1,
    });
    await gen.projector.start();
    return gen;
  };
  const afterCrash = async (gen: Generation<H>, context: string) => {
    await gen.stopping;
    await backend.reopen();
    await expectCommittedConsistent(backend, context);
  };

  let gen = await startGeneration();
  try {
    for (const [step, cmd] of cmds.entries()) {
      const context = `step ${step} (${cmd.kind})`;
      switch (cmd.kind) {
        case 'append':
          await append(backend.log, cmd.stream, cmd.events, cmd.parallel);
          break;
        case 'restart':
          await gen.projector?.stop();
          stats.restarts++;
          await expectCommittedConsistent(backend, context);
          gen = await startGeneration();
          break;
        case 'crashNow':
          stats.crashes++;
          kill(gen);
          await afterCrash(gen, context);
          gen = await startGeneration();
          break;
        case 'crashMidBatch': {
          let fired!: () => void;
          const crashed = new Promise<void>((resolve) => {
            fired = resolve;
          });
          gen.crash = { projection: cmd.projection, index: cmd.index, fired };
          // At least one event of each type, so the chosen projection has a batch to apply.
          const events = cmd.events.map((e, i) => (i === 0 ? { ...e, type: 'Added' as const } : e));
          await append(backend.log, cmd.stream, events, false);
          expect(await within(crashed, 5000), context).toBe('fired');
          await afterCrash(gen, context);
          gen = await startGeneration();
          break;
        }
        case 'catchUp': {
          const head = await backend.log.headPosition();
          expect(await gen.projector?.catchUp(5000), context).toEqual({ reached: true });
          await expectCommittedConsistent(backend, context);
          for (const spec of SPECS)
            expect(
              backend.snapshot(spec.name).checkpoint?.position ?? 0n,
              `${context}: ${spec.name} checkpoint`,
            ).toBeGreaterThanOrEqual(head);
          break;
        }
      }
    }

    // The end: a final clean start and catch-up.
    await gen.projector?.stop();
    gen = await startGeneration();
    expect(await gen.projector?.catchUp(5000)).toEqual({ reached: true });
    await gen.projector?.stop();

    const events = await allEvents(backend.log);
    const head = await backend.log.headPosition();
    expect(head).toBe(BigInt(events.length));
    expect(stats.duplicates).toEqual([]);
    for (const spec of SPECS) {
      const handled = events.filter((e) => spec.handles.includes(e.type as EventType));
      const snap = backend.snapshot(spec.name);
      // (An empty log is never checkpointed: there is nothing to commit.)
      if (head > 0n || snap.checkpoint)
        expect(snap.checkpoint).toEqual({ position: head, status: 'running', version: 1 });
      const expected = foldOf(events, spec, head);
      expect(snap.totals).toEqual(expected.totals);
      expect(snap.applied).toEqual(expected.applied);
      const count = [...snap.totals.values()].reduce((n, t) => n + t.count, 0);
      expect(count).toBe(handled.length);
      expect(snap.applied.size).toBe(handled.length);
    }
    const status = await gen.projector?.status();
    expect(status?.map((s) => [s.name, s.position, s.lag, s.status])).toEqual(
      SPECS.map((s) => [s.name, head, 0n, 'stopped']),
    );
  } finally {
    kill(gen);
    await gen.stopping;
  }
}

const property = <H>(makeBackend: () => Backend<H>, totals: Stats) =>
  fc.asyncProperty(scenarioArb, async (cmds) => {
    const backend = makeBackend();
    const stats: Stats = { duplicates: [], crashes: 0, midBatchCrashes: 0, restarts: 0 };
    try {
      await runScenario(backend, cmds, stats);
    } finally {
      await backend.dispose();
      totals.crashes += stats.crashes;
      totals.midBatchCrashes += stats.midBatchCrashes;
      totals.restarts += stats.restarts;
    }
  });

describe('projector: exactly once through restarts and crashes (property)', () => {
  it('on the SQLite stores', async () => {
    const totals: Stats = { duplicates: [], crashes: 0, midBatchCrashes: 0, restarts: 0 };
    await fc.assert(property(sqliteBackend, totals), { numRuns: 30 });
    // The generated scenarios did exercise what they are about.
    expect(totals.crashes).toBeGreaterThan(0);
    expect(totals.midBatchCrashes).toBeGreaterThan(0);
    expect(totals.restarts).toBeGreaterThan(0);
  });

  it('on the memory stores', async () => {
    const totals: Stats = { duplicates: [], crashes: 0, midBatchCrashes: 0, restarts: 0 };
    await fc.assert(property(memoryBackend, totals), { numRuns: 30 });
    expect(totals.crashes).toBeGreaterThan(0);
    expect(totals.midBatchCrashes).toBeGreaterThan(0);
    expect(totals.restarts).toBeGreaterThan(0);
  });
});
