// Blue/green rebuilds, version bumps and verify on the memory stores: the same projector logic
// as on SQLite, with tables that are maps.
import { describe, expect, it } from 'vitest';
import {
  defineProjection,
  type Event,
  type Projection,
  projector,
  verifyProjection,
} from '../../src/core/index.js';
import {
  type MemoryTables,
  memoryEventStore,
  memoryReadStore,
} from '../../src/stores/memory/index.js';

type Added = Event<'Added', { n: number }>;

/** Sums `n` per stream, times `weight`, in the table `totals`. */
const summing = (version: number, weight: number): Projection<Added, MemoryTables> =>
  defineProjection<Added, MemoryTables>({
    name: 'sums',
    version,
    tables: ['totals'],
    handles: ['Added'],
    apply(events, db) {
      for (const e of events) {
        const row = db.get<{ stream: string; sum: number }>('totals', e.streamId);
        db.set('totals', e.streamId, {
          stream: e.streamId,
          sum: (row?.sum ?? 0) + e.data.n * weight,
        });
      }
    },
  });

async function append(log: ReturnType<typeof memoryEventStore>, n: number) {
  for (let i = 1; i <= n; i++)
    await log.append(`s-${i % 3}`, [{ type: 'Added', data: { n: i } }], {});
}

describe('blue/green on the memory stores', () => {
  it('rebuilds beside the live copy, switches, and a version bump serves the old until then', async () => {
    const log = memoryEventStore();
    const read = memoryReadStore();
    await append(log, 30);
    const v1 = projector({
      log,
      store: read,
      projections: [summing(1, 1)] as Projection<Event, MemoryTables>[],
      batchSize: 4,
    });
    await v1.start();
    await v1.catchUp();
    const sum = () => read.tables.rows<{ sum: number }>('totals').reduce((a, r) => a + r.sum, 0);
    expect(sum()).toBe(465);
    await v1.rebuild('sums');
    expect(sum()).toBe(465);
    expect(read.tables.names().sort()).toEqual(['$checkpoints', 'totals']);
    expect((await v1.status())[0]).toMatchObject({ generation: 1, rebuild: { phase: 'done' } });
    await v1.stop();

    // Version 2 weighs by 10: the old copy (465) serves until the new one has caught up.
    const v2 = projector({
      log,
      store: read,
      projections: [summing(2, 10)] as Projection<Event, MemoryTables>[],
      batchSize: 4,
    });
    const seen = new Set<number>();
    const off = v2.onProgress(() => seen.add(sum()));
    await v2.start();
    expect((await v2.status())[0]?.status).toBe('rebuilding');
    await append(log, 3); // 1 + 2 + 3 more, while it rebuilds
    await v2.rebuild('sums'); // joins the rebuild the version bump started
    await v2.catchUp();
    off();
    expect(sum()).toBe(4710);
    expect([...seen].every((s) => s === 465 || s === 4710)).toBe(true); // never a half-built sum
    expect((await v2.status())[0]).toMatchObject({ version: 2, generation: 2, status: 'live' });

    const clean = await verifyProjection({
      log,
      store: read,
      projection: summing(2, 10) as Projection<Event, MemoryTables>,
    });
    expect(clean).toMatchObject({ differing: 0, position: 33n, rows: { totals: 3 } });
    await read.transact((tx) => tx.db.set('totals', 's-1', { stream: 's-1', sum: -1 }));
    const dirty = await verifyProjection({
      log,
      store: read,
      projection: summing(2, 10) as Projection<Event, MemoryTables>,
    });
    expect(dirty.differing).toBe(1);
    expect(dirty.examples[0]).toMatchObject({
      table: 'totals',
      key: { stream: 's-1' },
      live: { sum: -1 },
    });
    expect(read.tables.names().sort()).toEqual(['$checkpoints', 'totals']);
    await v2.stop();
  });

  it('drops an unfinished copy when the projector stops', async () => {
    const log = memoryEventStore();
    const read = memoryReadStore();
    await append(log, 200);
    const p = projector({
      log,
      store: read,
      projections: [summing(1, 1)] as Projection<Event, MemoryTables>[],
      batchSize: 1,
    });
    await p.start();
    await p.catchUp();
    const rebuilt = p.rebuild('sums');
    await p.stop();
    await expect(rebuilt).rejects.toThrow('stopped before the rebuild finished');
    expect(read.tables.names().sort()).toEqual(['$checkpoints', 'totals']);
    expect((await read.loadCheckpoints()).has('sums~rebuild')).toBe(false);
  });
});
