// The projection commands as a user runs them (a child process on the shop's files): verify
// catches one corrupted row; exit codes; rebuild in-process and through a running server; skip
// and retry resume a failed projection, and a skip stays on record.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/core/index.js';
import { catalogProjection } from '../../src/shop/catalog/projection.js';
import type { ShopEvent } from '../../src/shop/events.js';
import { shopProjections } from '../../src/shop/query-handlers.js';
import { onReadDb, type ShopFiles, STACKS, seedCatalog, shopFiles, until } from './shop.js';

// Each command is a child process that loads TypeScript through tsx: seconds each on a busy machine.
const SLOW = { timeout: 180_000 };
const root = resolve(import.meta.dirname, '../..');
let files: ShopFiles | undefined;
afterEach(async () => {
  await files?.remove();
  files = undefined;
});

/** Runs `tworooms …` on the test's files; nothing listens at the default URL it is given. */
function tworooms(
  f: ShopFiles,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      {
        cwd: root,
        env: {
          ...process.env,
          ...f.env,
          PORT: '1', // nothing listens on port 1: commands run in-process unless given --url
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('tworooms verify', SLOW, () => {
  it.each(STACKS)(
    'catches a single corrupted row, and exits 0 on a clean read model (%s)',
    async (stack) => {
      files = await shopFiles(stack);
      const shop = await files.open();
      const { productIds } = await seedCatalog(shop, 10);
      await shop.shop.projector?.catchUp();
      const clean = await tworooms(files, 'verify', 'catalog');
      expect(clean).toMatchObject({ code: 0 });
      expect(clean.stdout).toContain('0 differing rows');

      await onReadDb(
        files,
        `UPDATE rm_catalog_products SET price_cents = 1 WHERE id = '${productIds[3]}'`,
      );
      const dirty = await tworooms(files, 'verify', 'catalog');
      expect(dirty.code).toBe(1);
      expect(dirty.stdout).toContain('1 differing rows');
      expect(dirty.stdout).toContain(`rm_catalog_products {"id":"${productIds[3]}"}`);
      expect(dirty.stdout).toMatch(/live: +\{[^\n]*"price_cents":1,/);
      expect(dirty.stdout).toMatch(/rebuilt: +\{[^\n]*"price_cents":400,/);
      await shop.close();
    },
  );

  it('answers bad input with a one-line error and exit code 2', async () => {
    files = await shopFiles();
    const shop = await files.open();
    await shop.close();
    for (const args of [
      ['verify', 'nope'],
      ['rebuild', 'nope'],
      ['skip', 'catalog', 'abc'],
      ['skip', 'catalog', '3'],
      ['retry', 'catalog'],
    ]) {
      const r = await tworooms(files, ...args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(/^tworooms: .+\n$/);
    }
    expect((await tworooms(files, 'verify', 'nope')).stderr).toContain(
      'unknown projection "nope" (there are: catalog, search, orders, carts)',
    );
  });
});

describe('tworooms rebuild', SLOW, () => {
  it('rebuilds in-process when no server answers, and through a running server otherwise', async () => {
    files = await shopFiles();
    let shop = await files.open();
    await seedCatalog(shop, 5);
    await shop.shop.projector?.catchUp();
    await shop.close();
    const local = await tworooms(files, 'rebuild', 'catalog');
    expect(local.stderr).toContain('rebuilding in this process');
    expect(local).toMatchObject({ code: 0 });
    expect(local.stdout).toMatch(/catalog rebuilt: generation 1, \d+ events/);

    shop = await files.open();
    await shop.shop.app.listen({ port: 0, host: '127.0.0.1' });
    const address = shop.shop.app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const remote = await tworooms(files, 'rebuild', 'catalog', '--url', url);
    expect(remote.stderr).toContain(`rebuilding catalog on the server at ${url}`);
    expect(remote).toMatchObject({ code: 0 });
    expect(remote.stdout).toMatch(/catalog rebuilt: generation 2/);
    expect((await shop.call('GET', '/api/catalog')).body.total).toBe(5);
    await shop.close();
  });
});

describe('failures: skip and retry', SLOW, () => {
  it('stops on a poison event; skip resumes past it and keeps the record; retry resumes', async () => {
    files = await shopFiles();
    let poison = true;
    const failing = {
      ...catalogProjection,
      apply(
        events: readonly RecordedEvent<ShopEvent>[],
        db: Parameters<typeof catalogProjection.apply>[1],
      ) {
        for (const e of events)
          if (poison && e.type === 'ProductPriceUpdated' && e.data.priceCents === 666)
            throw new Error('the price of the beast');
        return catalogProjection.apply(events, db);
      },
    };
    const projections = [failing, ...shopProjections().filter((p) => p.name !== 'catalog')];
    let shop = await files.open({ projections });
    const { productIds } = await seedCatalog(shop, 3);
    const bad = await shop.call('PUT', `/api/products/${productIds[0]}/price`, { priceCents: 666 });
    await shop.call('PUT', `/api/products/${productIds[1]}/price`, { priceCents: 777 });
    const catalog = async () =>
      (await shop.call('GET', '/api/admin/projections')).body.find(
        (s: { name: string }) => s.name === 'catalog',
      );
    await until(async () => (await catalog()).status === 'failed');
    expect((await catalog()).failure).toMatchObject({
      position: bad.body.position,
      eventType: 'ProductPriceUpdated',
      error: 'the price of the beast',
      attempts: 5,
    });
    const wrong = await shop.call('POST', '/api/admin/projections/catalog/skip', { position: '1' });
    expect(wrong.status).toBe(400);
    const skipped = await shop.call('POST', '/api/admin/projections/catalog/skip', {
      position: bad.body.position,
    });
    expect(skipped.status).toBe(200);
    expect(skipped.body.skipped).toMatchObject([
      {
        position: bad.body.position,
        eventType: 'ProductPriceUpdated',
        error: 'the price of the beast',
      },
    ]);
    await shop.shop.projector?.catchUp();
    expect((await shop.call('GET', `/api/products/${productIds[1]}`)).body.priceCents).toBe(777);
    expect((await shop.call('GET', `/api/products/${productIds[0]}`)).body.priceCents).toBe(100);

    // A second poison event, fixed in place: retry resumes.
    await shop.call('PUT', `/api/products/${productIds[2]}/price`, { priceCents: 666 });
    await until(async () => (await catalog()).status === 'failed');
    poison = false;
    expect((await shop.call('POST', '/api/admin/projections/catalog/retry')).status).toBe(200);
    await shop.shop.projector?.catchUp();
    expect((await shop.call('GET', `/api/products/${productIds[2]}`)).body.priceCents).toBe(666);
    expect((await shop.call('POST', '/api/admin/projections/catalog/retry')).status).toBe(400);
    await shop.close();

    // The skip is on record: after a restart and in `tworooms projections`.
    const listed = await tworooms(files, 'projections');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`skipped position ${bad.body.position} (ProductPriceUpdated`);
    shop = await files.open();
    expect((await catalog()).skipped).toHaveLength(1);
    await shop.close();
  });

  it('skip and retry work on the files when no server runs', async () => {
    files = await shopFiles();
    const failing = {
      ...catalogProjection,
      apply(
        events: readonly RecordedEvent<ShopEvent>[],
        db: Parameters<typeof catalogProjection.apply>[1],
      ) {
        if (events.some((e) => e.type === 'ProductPriceUpdated')) throw new Error('boom');
        return catalogProjection.apply(events, db);
      },
    };
    const shop = await files.open({
      projections: [failing, ...shopProjections().filter((p) => p.name !== 'catalog')],
    });
    const { productIds } = await seedCatalog(shop, 1);
    const bad = await shop.call('PUT', `/api/products/${productIds[0]}/price`, { priceCents: 5 });
    await until(async () => shop.shop.projector?.isFailed('catalog') ?? false);
    await shop.close();
    const listed = await tworooms(files, 'projections');
    expect(listed.stdout).toContain(`failed at position ${bad.body.position} (ProductPriceUpdated`);
    expect((await tworooms(files, 'skip', 'catalog', '1')).code).toBe(2);
    const skip = await tworooms(files, 'skip', 'catalog', bad.body.position);
    expect(skip).toMatchObject({ code: 0 });
    expect((await tworooms(files, 'projections')).stdout).toContain('catalog: live');
    expect((await tworooms(files, 'retry', 'catalog')).code).toBe(2); // not failed any more
  });
});
