// Leases on PostgreSQL advisory locks, and projector workers sharing projections through them:
// one owner per projection; when the owner's session dies, a standby takes over without losing
// or double-applying an event.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeaseManager } from '../../src/core/lease.js';
import { LeasedProjector } from '../../src/core/leased-projector.js';
import type { Event } from '../../src/core/messages.js';
import type { Projection } from '../../src/core/projection.js';
import {
  type MemoryTables,
  memoryEventStore,
  memoryReadStore,
} from '../../src/stores/memory/index.js';
import { postgresLeases } from '../../src/stores/postgres/lease.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';

const reachable = await postgresReachable();

/** Ends a manager's session from the server side, as a dead process or a cut network would. */
async function killSession(url: string, applicationName: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const r = await c.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
    [applicationName],
  );
  expect(r.rowCount).toBe(1);
  await c.end();
}

const until = async (what: string, check: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe.runIf(reachable)('PostgreSQL leases', () => {
  let db: TestDatabase;
  const managers: LeaseManager[] = [];
  const leases = async (applicationName: string) => {
    const m = await postgresLeases({ connectionString: db.url, heartbeatMs: 200, applicationName });
    managers.push(m);
    return m;
  };
  beforeAll(async () => {
    db = await createTestDatabase('tworooms_lease');
  });
  afterAll(async () => {
    for (const m of managers) await m.close();
    await db?.drop();
  });

  it('gives a name to one holder at a time; release or a dead session frees it', async () => {
    const a = await leases('lease-a');
    const b = await leases('lease-b');
    const held = await a.tryAcquire('catalog');
    expect(held).toBeDefined();
    expect(await b.tryAcquire('catalog')).toBeUndefined();
    expect(await a.tryAcquire('catalog')).toBeUndefined(); // not twice in one manager either
    expect(await b.tryAcquire('orders')).toBeDefined(); // names are independent
    await held?.release();
    const again = await b.tryAcquire('catalog');
    expect(again).toBeDefined();
    let lost = false;
    void again?.lost.then(() => {
      lost = true;
    });
    // b's session dies: its leases are lost here and free on the server.
    await killSession(db.url, 'lease-b');
    await until('the lease to be lost', () => lost);
    const c = await leases('lease-c');
    expect(await c.tryAcquire('catalog')).toBeDefined();
    await expect(b.tryAcquire('x')).rejects.toThrow(/closed/);
  });

  it('runs each projection in one worker; a standby takes over after the owner dies, exactly once', async () => {
    const store = memoryEventStore();
    const read = memoryReadStore();
    const counted = (name: string): Projection<Event, MemoryTables> => ({
      name,
      version: 1,
      handles: ['Added'],
      apply(events, t) {
        for (const e of events) {
          if (t.get(`${name}:seen`, e.id) !== undefined) throw new Error(`${e.position} twice`);
          t.set(`${name}:seen`, e.id, 1);
          t.set(`${name}:sum`, 'total', (t.get<number>(`${name}:sum`, 'total') ?? 0) + 1);
        }
      },
    });
    const projections = [counted('p1'), counted('p2')];
    const worker = async (name: string) =>
      new LeasedProjector({
        log: store.log,
        store: read,
        projections,
        leases: await leases(name),
        acquireEveryMs: 50,
      });
    const w1 = await worker('worker-1');
    await w1.start();
    const w2 = await worker('worker-2');
    await w2.start();
    expect(w1.ownedNames().sort()).toEqual(['p1', 'p2']);
    expect(w2.ownedNames()).toEqual([]);
    for (let i = 0; i < 50; i++) await store.append(`s-${i % 5}`, [{ type: 'Added', data: {} }]);
    // The owner's lease session dies (its process would have): w2 takes over both within ~50 ms.
    await killSession(db.url, 'worker-1');
    await until('w2 to own both', () => w2.ownedNames().length === 2);
    for (let i = 0; i < 50; i++) await store.append(`s-${i % 5}`, [{ type: 'Added', data: {} }]);
    await until('both projections to reach the head', () =>
      projections.every((p) => read.tables.get<number>(`${p.name}:sum`, 'total') === 100),
    );
    expect(w1.ownedNames()).toEqual([]);
    await w1.stop();
    await w2.stop();
  });
});
