import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/core/projection.js';
import { PostgresReadStore, pgSql } from '../../src/stores/postgres/index.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../../src/stores/postgres/test-db.js';

const reachable = await postgresReachable();

describe.skipIf(!reachable)('PostgresReadStore', () => {
  let db: TestDatabase;
  let store: PostgresReadStore;
  const projection = {
    name: 'counts',
    version: 1,
    handles: ['Counted'],
    setup: (c: pg.PoolClient) => c.query('CREATE TABLE IF NOT EXISTS counts (n BIGINT NOT NULL)'),
    apply: () => undefined,
  };
  const checkpoint = (position: bigint): Checkpoint => ({
    name: 'counts',
    version: 1,
    position,
    status: 'running',
  });

  beforeAll(async () => {
    db = await createTestDatabase('tworooms_read_store');
    store = await PostgresReadStore.open({ connectionString: db.url });
    await store.setup([projection]);
    await store.setup([projection]); // idempotent
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('commits rows and checkpoint together; a throw rolls both back', async () => {
    await store.transact(async (tx) => {
      await tx.db.query('INSERT INTO counts (n) VALUES (1)');
      await tx.saveCheckpoint(checkpoint(1n));
    });
    await expect(
      store.transact(async (tx) => {
        await tx.db.query('INSERT INTO counts (n) VALUES (2)');
        await tx.saveCheckpoint(checkpoint(2n));
        throw new Error('projection failed');
      }),
    ).rejects.toThrow('projection failed');
    expect((await store.loadCheckpoints()).get('counts')?.position).toBe(1n);
    const rows = await pgSql(store.pool).all<{ n: number }>('SELECT n FROM counts');
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('keeps positions beyond 2^53 and failures exactly', async () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const failed: Checkpoint = {
      ...checkpoint(2n ** 60n),
      status: 'failed',
      failure: {
        position: 2n ** 60n + 1n,
        eventId: 'e1',
        eventType: 'Counted',
        error: 'boom',
        attempts: 3,
        at,
      },
    };
    await store.transact((tx) => tx.saveCheckpoint(failed));
    expect((await store.loadCheckpoints()).get('counts')).toEqual(failed);
  });

  it('gives query handlers a read-only pool: reads work, writes fail', async () => {
    const reader = pgSql(store.readOnly());
    expect(await reader.get('SELECT count(*) AS n FROM counts')).toEqual({ n: 1 });
    await expect(reader.run('INSERT INTO counts (n) VALUES (?)', [9])).rejects.toThrow(
      /read-only transaction/,
    );
    await expect(reader.exec('DELETE FROM counts')).rejects.toThrow(/read-only/);
  });

  it('keeps working after a failed statement (the connection goes back clean)', async () => {
    for (let i = 0; i < 4; i++) {
      await expect(store.transact((tx) => tx.db.query('SELECT * FROM nowhere'))).rejects.toThrow(
        /nowhere/,
      );
    }
    expect(await store.transact(async (tx) => (await tx.db.query('SELECT 1 AS x')).rows)).toEqual([
      { x: 1 },
    ]);
  });

  it('keeps the generation and the skipped positions with the checkpoint', async () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const c: Checkpoint = {
      ...checkpoint(7n),
      name: 'meta',
      generation: 3,
      skipped: [{ position: 2n ** 60n, eventId: 'e9', eventType: 'Counted', error: 'bad', at }],
    };
    await store.transact((tx) => tx.saveCheckpoint(c));
    expect((await store.loadCheckpoints()).get('meta')).toEqual(c);
    await store.transact((tx) => tx.saveCheckpoint({ ...checkpoint(8n), name: 'meta' }));
    expect((await store.loadCheckpoints()).get('meta')).toEqual({
      ...checkpoint(8n),
      name: 'meta',
    });
  });

  it('builds a renamed copy, lists, renames, reads and drops tables in one transaction', async () => {
    const names = { tables: ['counts'], tableSuffix: '__g1', indexSuffix: '__g1' };
    await store.transact(
      async (tx) => {
        // The projection's own SQL, rewritten: it creates and fills counts__g1.
        await tx.db.query(
          'CREATE TABLE IF NOT EXISTS counts (n BIGINT NOT NULL); CREATE INDEX counts_by_n ON counts (n)',
        );
        await tx.db.query({ text: 'INSERT INTO counts (n) VALUES ($1), ($2)', values: [5, 6] });
      },
      { names },
    );
    const listed = await store.transact(async (tx) => {
      const ops = tx.tables!;
      const before = await ops.list();
      expect(before).toEqual(expect.arrayContaining(['counts', 'counts__g1']));
      expect(await ops.rows('counts__g1')).toEqual(expect.arrayContaining([{ n: 5 }, { n: 6 }]));
      await ops.lock?.(['counts']);
      await ops.rename('counts', 'counts__old1');
      await ops.rename('counts__g1', 'counts');
      await ops.drop('counts__old1');
      await ops.drop('counts__old1'); // absent: nothing to do
      return ops.list();
    });
    expect(listed).toContain('counts');
    expect(listed).not.toContain('counts__g1');
    expect(listed).not.toContain('counts__old1');
    const reader = pgSql(store.readOnly());
    expect(await reader.all('SELECT n FROM counts ORDER BY n')).toEqual([{ n: 5 }, { n: 6 }]);
    const indexes = await reader.all<{ name: string }>(
      "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'counts'",
    );
    expect(indexes.map((i) => i.name)).toContain('counts_by_n__g1');
  });

  it('holds a checkpoint row read through tables.checkpoint until the transaction ends', async () => {
    await store.transact((tx) => tx.saveCheckpoint({ ...checkpoint(1n), name: 'held' }));
    const other = await PostgresReadStore.open({ connectionString: db.url });
    try {
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let read!: () => void;
      const wasRead = new Promise<void>((r) => {
        read = r;
      });
      const holding = store.transact(async (tx) => {
        expect(await tx.tables!.checkpoint('held')).toMatchObject({ position: 1n });
        read();
        await gate;
      });
      await wasRead;
      await expect(
        other.transact(async (tx) => {
          await tx.db.query("SET LOCAL lock_timeout = '100ms'");
          await tx.saveCheckpoint({ ...checkpoint(2n), name: 'held' });
        }),
      ).rejects.toThrow(/lock timeout/);
      release();
      await holding;
      await other.transact((tx) => tx.saveCheckpoint({ ...checkpoint(2n), name: 'held' }));
      await other.transact((tx) => tx.tables!.deleteCheckpoint('held'));
      expect((await store.loadCheckpoints()).has('held')).toBe(false);
    } finally {
      await other.close();
    }
  });

  it('a switch lock gives way to a long query and never fails the queries queued behind it', async () => {
    await store.transact((tx) =>
      tx.db.query('CREATE TABLE IF NOT EXISTS switched (n BIGINT NOT NULL)'),
    );
    // A reader in the middle of a long transaction holds the table (ACCESS SHARE).
    const long = await store.readOnly().connect();
    try {
      await long.query('BEGIN');
      await long.query('SELECT count(*) FROM switched');
      let locked = false;
      const switching = store.transact(async (tx) => {
        await tx.tables!.lock?.(['switched']);
        locked = true;
      });
      // Meanwhile other queries keep being answered: the switch keeps giving way.
      const reader = pgSql(store.readOnly());
      for (let i = 0; i < 20; i++) {
        expect(await reader.get('SELECT count(*) AS n FROM switched')).toEqual({ n: 0 });
        expect(locked).toBe(false);
      }
      await long.query('COMMIT');
      await switching;
      expect(locked).toBe(true);
    } finally {
      long.release();
    }
  });
});
