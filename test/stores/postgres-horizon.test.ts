import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventLog } from '../../src/core/event-log.js';
import type { RecordedEvent } from '../../src/core/messages.js';
import type { Projection } from '../../src/core/projection.js';
import { Projector } from '../../src/core/projector.js';
import { MemoryReadStore, type MemoryTables } from '../../src/stores/memory/index.js';
import { PostgresEventStore } from '../../src/stores/postgres/index.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';

// Three stores on one database stand for three processes: one holds a transaction open, one
// keeps appending, one runs the projector (woken through LISTEN/NOTIFY).
const reachable = await postgresReachable();

async function waitUntil(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A projection that keeps every event it is given, in the order it got them. */
function keepAll(applied: RecordedEvent[]): Projection<never, MemoryTables> {
  return {
    name: 'kept',
    version: 1,
    handles: ['Held', 'Later'] as never[],
    apply: (events) => {
      applied.push(...events);
    },
  };
}

/** The real log, counting the reads the projector makes (nothing else changes). */
function counted(log: EventLog): { log: EventLog; reads: () => number } {
  let reads = 0;
  return {
    reads: () => reads,
    log: {
      readStream: (id, o) => log.readStream(id, o),
      readAll: async (o) => {
        const r = await log.readAll(o);
        reads++;
        return r;
      },
      headPosition: () => log.headPosition(),
      append: (id, e, o) => log.append(id, e, o),
      onAppended: (l) => log.onAppended(l),
    },
  };
}

/** Opens a transaction in `store` that records one event, then waits for `release`. */
function holdOpen(store: PostgresEventStore, streamId: string) {
  let release!: (commit: boolean) => void;
  const decided = new Promise<boolean>((resolve) => {
    release = resolve;
  });
  let recorded!: (position: bigint) => void;
  const position = new Promise<bigint>((resolve) => {
    recorded = resolve;
  });
  const done = store.transact(async (tx) => {
    const r = await tx.record(streamId, [{ type: 'Held', data: {} }]);
    recorded(r.lastPosition);
    if (!(await decided)) throw new Error('rolled back on purpose');
  });
  return { position, release, done };
}

describe.skipIf(!reachable)('postgres log: an open transaction with an earlier position', () => {
  let db: TestDatabase;
  let holder: PostgresEventStore;
  let writer: PostgresEventStore;
  let reader: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase('tworooms_horizon');
    holder = await PostgresEventStore.open({ connectionString: db.url, poolSize: 2 });
    writer = await PostgresEventStore.open({ connectionString: db.url, poolSize: 2 });
    reader = await PostgresEventStore.open({ connectionString: db.url, poolSize: 3 });
  });
  afterAll(async () => {
    await Promise.all([holder?.close(), writer?.close(), reader?.close()]);
    await db?.drop();
  });

  const appendLater = async (from: number) => {
    for (let i = from; i < from + 50; i++)
      await writer.append(`later-${i % 7}`, [{ type: 'Later', data: { i } }]);
  };

  it('the projector waits for it, then projects it once it commits', async () => {
    const applied: RecordedEvent[] = [];
    const { log, reads } = counted(reader);
    // A short poll makes the projector read again and again while the transaction is open.
    const projector = new Projector({
      log,
      store: new MemoryReadStore(),
      projections: [keepAll(applied)],
      pollMs: 10,
    });
    await projector.start();
    try {
      const held = holdOpen(holder, 'held-1');
      const heldPosition = await held.position;
      await appendLater(0);
      const mark = reads();
      await waitUntil('three reads after the later commits', () => reads() >= mark + 3);

      expect(applied).toEqual([]);
      expect(projector.positionOf('kept')).toBe(0n);
      expect(await reader.readAll({ after: 0n, limit: 1000 })).toEqual({
        events: [],
        coveredTo: 0n,
      });
      expect(await reader.headPosition()).toBe(0n);

      held.release(true);
      await held.done;
      await waitUntil('all 51 events projected', () => applied.length === 51);
      expect(applied[0]!.position).toBe(heldPosition);
      expect(applied[0]!.type).toBe('Held');
      expect(applied.slice(1).map((e) => e.data['i'])).toEqual(
        Array.from({ length: 50 }, (_, i) => i),
      );
      const positions = applied.map((e) => e.position);
      expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : 1)));
      expect(new Set(positions).size).toBe(51);
      expect(projector.positionOf('kept')).toBe(await reader.headPosition());
    } finally {
      await projector.stop();
    }
  });

  it('a rolled-back transaction does not stall the projector', async () => {
    const applied: RecordedEvent[] = [];
    // No safety poll worth the name: only the log's own signals can wake this projector.
    const projector = new Projector({
      log: reader,
      store: new MemoryReadStore(),
      projections: [keepAll(applied)],
      pollMs: 600_000,
    });
    await projector.start();
    try {
      await waitUntil('the first test’s events', () => applied.length === 51);
      const head = await reader.headPosition();

      const held = holdOpen(holder, 'held-2');
      const heldPosition = await held.position;
      expect(heldPosition).toBeGreaterThan(head);
      await appendLater(100);
      expect(await reader.readAll({ after: head, limit: 1000 })).toEqual({
        events: [],
        coveredTo: head,
      });
      expect(applied).toHaveLength(51);

      held.release(false);
      await expect(held.done).rejects.toThrow('rolled back on purpose');
      await waitUntil('the 50 later events projected', () => applied.length === 101);
      expect(applied.slice(51).map((e) => e.data['i'])).toEqual(
        Array.from({ length: 50 }, (_, i) => 100 + i),
      );
      expect(applied.some((e) => e.position === heldPosition)).toBe(false);
      expect(applied.filter((e) => e.type === 'Held')).toHaveLength(1);
    } finally {
      await projector.stop();
    }
  });

  it('an older transaction (by xid) committing a later position does not let readers pass an open one', async () => {
    // The trap of "only read events of transactions older than the snapshot's xmin": here the
    // committed transaction is older than the open one, yet its position is later.
    const start = await reader.headPosition();
    let gotXid!: () => void;
    const xidTaken = new Promise<void>((resolve) => {
      gotXid = resolve;
    });
    let go!: () => void;
    const goOn = new Promise<void>((resolve) => {
      go = resolve;
    });
    const older = writer.transact(async (tx) => {
      await tx.db.query('SELECT pg_current_xact_id()');
      gotXid();
      await goOn;
      return (await tx.record('older', [{ type: 'Later', data: {} }])).lastPosition;
    });
    await xidTaken;
    const held = holdOpen(holder, 'held-3');
    const heldPosition = await held.position;
    go();
    const outcome = await older;
    if (outcome.replayed) throw new Error('unreachable: no idempotency key');
    const olderPosition = outcome.position;
    expect(olderPosition).toBeGreaterThan(heldPosition);

    expect(await reader.readAll({ after: start, limit: 10 })).toEqual({
      events: [],
      coveredTo: start,
    });
    held.release(true);
    await held.done;
    const page = await reader.readAll({ after: start, limit: 10 });
    expect(page.events.map((e) => e.position)).toEqual([heldPosition, olderPosition]);
  });
});
