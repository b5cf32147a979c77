// The composition root opens the same ports on either stack; the handles it gives query
// handlers (level 1 on the write DB, level 2 on the read DB) refuse writes on both.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../src/config.js';
import { openReadSide, openWriteSide } from '../src/main.js';
import { shopProjections } from '../src/shop/query-handlers.js';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../src/stores/postgres/test-db.js';

const stacks: readonly ('sqlite' | 'postgres')[] = (await postgresReachable())
  ? ['sqlite', 'postgres']
  : ['sqlite'];
/** SQLite also with its queries on worker threads (`TWOROOMS_READ_THREADS`). */
const variants = [...stacks.map((s) => [s, '0'] as const), ['sqlite', '2'] as const];

describe.each(variants)('openWriteSide / openReadSide (%s, read threads: %s)', (stack, threads) => {
  let dir: string;
  let dbs: TestDatabase[] = [];
  let config: Config;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tworooms-sides-'));
    if (stack === 'postgres') {
      dbs = await Promise.all([createTestDatabase('tw_sides_w'), createTestDatabase('tw_sides_r')]);
    }
    config = loadConfig({
      TWOROOMS_DATA_DIR: dir,
      TWOROOMS_READ_THREADS: threads,
      ...(stack === 'postgres'
        ? { TWOROOMS_WRITE_DB: dbs[0]!.url, TWOROOMS_READ_DB: dbs[1]!.url }
        : {}),
    });
  });
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrates idempotently, and the query handles read but never write', async () => {
    for (let i = 0; i < 2; i++) {
      const write = await openWriteSide(config);
      const read = await openReadSide(config);
      await read.store.setup(shopProjections());
      await write.close();
      await read.close();
    }
    const write = await openWriteSide(config);
    const read = await openReadSide(config);
    try {
      const reader = read.reader();
      expect(await write.reader.get('SELECT count(*) AS n FROM categories')).toEqual({ n: 0 });
      expect(await reader.get('SELECT count(*) AS n FROM rm_catalog_products')).toEqual({ n: 0 });
      const refusal = /read-only|readonly/i;
      await expect(
        write.reader.run('INSERT INTO categories (id, name, created_at) VALUES (?, ?, ?)', [
          'c',
          'C',
          1,
        ]),
      ).rejects.toThrow(refusal);
      await expect(reader.run('DELETE FROM rm_catalog_products')).rejects.toThrow(refusal);
      await expect(write.reader.exec('DROP TABLE categories')).rejects.toThrow(refusal);
      expect(await write.reader.get('SELECT count(*) AS n FROM categories')).toEqual({ n: 0 });
    } finally {
      await write.close();
      await read.close();
    }
  });
});

describe.skipIf(!stacks.includes('postgres'))(
  'several processes starting at once (postgres)',
  () => {
    it('migrate and set up the same fresh databases without tripping over each other', async () => {
      const dbs = await Promise.all([
        createTestDatabase('tw_start_w'),
        createTestDatabase('tw_start_r'),
      ]);
      const dir = mkdtempSync(join(tmpdir(), 'tworooms-start-'));
      try {
        const config = loadConfig({
          TWOROOMS_DATA_DIR: dir,
          TWOROOMS_WRITE_DB: dbs[0]!.url,
          TWOROOMS_READ_DB: dbs[1]!.url,
        });
        const start = async () => {
          const write = await openWriteSide(config);
          const read = await openReadSide(config).catch(async (e) => {
            await write.close();
            throw e;
          });
          const close = async () => {
            await write.close();
            await read.close();
          };
          await read.store.setup(shopProjections()).catch(async (e) => {
            await close();
            throw e;
          });
          return close;
        };
        // Every process that started is closed before the databases go, even if one failed.
        const started = await Promise.allSettled(Array.from({ length: 4 }, start));
        for (const s of started) if (s.status === 'fulfilled') await s.value();
        const failed = started.find((s) => s.status === 'rejected');
        if (failed) throw failed.reason;
      } finally {
        await Promise.all(dbs.map((d) => d.drop()));
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
