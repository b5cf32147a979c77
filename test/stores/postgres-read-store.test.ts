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
});
