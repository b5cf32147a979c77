// The composition root refuses what would break the production stack, with a clear message and
// nothing left open: an unreachable Redis, a second projector on the same read models, a
// projector worker in write-db mode.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createProjectorWorker, createShop } from '../../src/main.js';
import { shopProjections } from '../../src/shop/query-handlers.js';
import { createTestDatabase, type TestDatabase } from '../../src/stores/postgres/test-db.js';
import { eventually } from '../stores/services.js';
import { STACKS } from './harness.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function settings(stack: 'sqlite' | 'production'): Promise<Record<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), 'tworooms-wiring-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const env: Record<string, string> = { TWOROOMS_DATA_DIR: dir, TWOROOMS_ADMIN_TOKEN: 'admin' };
  if (stack === 'production') {
    const dbs: TestDatabase[] = await Promise.all([
      createTestDatabase('tw_wiring_w'),
      createTestDatabase('tw_wiring_r'),
    ]);
    cleanups.push(() => Promise.all(dbs.map((d) => d.drop())));
    env['TWOROOMS_WRITE_DB'] = dbs[0]!.url;
    env['TWOROOMS_READ_DB'] = dbs[1]!.url;
  }
  return env;
}

describe('createShop', () => {
  it('fails to start with "Redis unreachable" when the Redis cache does not answer', async () => {
    const env = await settings('sqlite');
    await expect(
      createShop(loadConfig({ ...env, TWOROOMS_CACHE: 'redis://127.0.0.1:1' }), { logger: false }),
    ).rejects.toThrow(/^Redis unreachable: .*ECONNREFUSED/);
    // Everything it opened was closed: the same files open again, projector and all.
    const shop = await createShop(loadConfig(env), { logger: false });
    await shop.close();
  });
});

describe.each(STACKS)('one projector per read model (%s)', (stack) => {
  it('refuses a second projecting serve, not an API-only one; the projections free on close', async () => {
    const env = await settings(stack);
    const first = await createShop(loadConfig(env), { logger: false });
    cleanups.push(() => first.close());
    await expect(createShop(loadConfig(env), { logger: false })).rejects.toThrow(
      stack === 'sqlite' ? /already runs the projector on this SQLite read DB/ : /--no-projector/,
    );
    const apiOnly = await createShop(loadConfig(env), { logger: false, projector: false });
    await apiOnly.close();
    const worker = createProjectorWorker(loadConfig(env), { logger: false });
    if (stack === 'sqlite') {
      await expect(worker).rejects.toThrow(/already runs the projector/);
      await first.close();
      const again = await createShop(loadConfig(env), { logger: false });
      await again.close();
      return;
    }
    // On PostgreSQL a worker may stand by beside it, owning nothing until the serve is gone.
    const standby = await worker;
    cleanups.push(() => standby.close());
    expect(standby.projector.ownedNames()).toEqual([]);
    await first.close();
    await eventually(
      () => standby.projector.ownedNames().length === shopProjections().length,
      'the standby to take every projection over',
    );
  });

  it('refuses a projector worker in write-db mode', async () => {
    const env = await settings(stack);
    await expect(
      createProjectorWorker(loadConfig({ ...env, TWOROOMS_READS: 'write-db' })),
    ).rejects.toThrow(/TWOROOMS_READS=write-db has none/);
  });
});
