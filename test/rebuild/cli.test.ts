// The projection commands as a user runs them (a child process on the shop's files): verify
// catches one corrupted row and counts many while showing a few; exit codes; rebuild in-process
// and through a running server; skip and retry resume a failed projection (on the files or
// through the server) while the others go on, and a skip stays on record. Rebuild, skip and
// retry run on both stacks (SQLite files, and PostgreSQL write and read DBs).
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { catalogProjection } from '../../src/shop/catalog/projection.js';
import { shopProjections } from '../../src/shop/query-handlers.js';
import {
  catalogFailingOn,
  onReadDb,
  type ProjectionStatusBody,
  type ShopFiles,
  STACKS,
  seedCatalog,
  shopFiles,
  statusOf,
  until,
} from './shop.js';

// Each command is a child process that loads TypeScript through tsx: seconds each on a busy machine.
const SLOW = { timeout: 180_000 };
const root = resolve(import.meta.dirname, '../..');
const others = shopProjections().filter((p) => p.name !== 'catalog');
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

  it('counts every differing row but prints at most 5 examples', async () => {
    files = await shopFiles();
    const shop = await files.open();
    const { productIds } = await seedCatalog(shop, 10);
    await shop.shop.projector?.catchUp();
    await shop.close();
    const corrupted = productIds.slice(0, 7); // more than the 5 examples verify keeps
    await onReadDb(
      files,
      `UPDATE rm_catalog_products SET price_cents = 1 WHERE id IN (${corrupted.map((id) => `'${id}'`).join(', ')})`,
    );
    const r = await tworooms(files, 'verify', 'catalog');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/: compared [^\n]*\brm_catalog_products 10,/);
    expect(r.stdout).toContain('7 differing rows, for example:');
    const shown = [...r.stdout.matchAll(/^ {2}rm_catalog_products \{"id":"([^"]+)"\}$/gm)].map(
      (m) => m[1],
    );
    expect(shown).toHaveLength(5);
    expect(new Set(shown).size).toBe(5);
    for (const id of shown) expect(corrupted).toContain(id);
    expect(r.stdout.match(/^ {4}live: +\{[^\n]*"price_cents":1,/gm)).toHaveLength(5);
    expect(r.stdout.match(/^ {4}rebuilt: /gm)).toHaveLength(5);
  });

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
  it.each(STACKS)(
    'rebuilds in-process when no server answers, and through a running server otherwise (%s)',
    async (stack) => {
      files = await shopFiles(stack);
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
    },
  );
});

describe('failures: skip and retry', SLOW, () => {
  it.each(STACKS)(
    'stops on a poison event; skip resumes past it and keeps the record; retry resumes (%s)',
    async (stack) => {
      files = await shopFiles(stack);
      let poison = true;
      const failing = catalogFailingOn(
        (e) => poison && e.type === 'ProductPriceUpdated' && e.data.priceCents === 666,
        'the price of the beast',
      );
      const projections = [failing, ...shopProjections().filter((p) => p.name !== 'catalog')];
      let shop = await files.open({ projections });
      const { categoryId, productIds } = await seedCatalog(shop, 3);
      const bad = await shop.call('PUT', `/api/products/${productIds[0]}/price`, {
        priceCents: 666,
      });
      await shop.call('PUT', `/api/products/${productIds[1]}/price`, { priceCents: 777 });
      const catalog = () => statusOf(shop, 'catalog');
      await until(async () => (await catalog()).status === 'failed');
      expect((await catalog()).failure).toMatchObject({
        position: bad.body.position,
        eventType: 'ProductPriceUpdated',
        error: 'the price of the beast',
        attempts: 5,
      });

      // The others go on meanwhile: a product added after the failure is applied by search (and
      // search, orders and carts reach the head) while catalog stays stopped before the poison.
      const late = await shop.call('POST', '/api/products', {
        sku: 'SKU-LATE',
        name: 'Oolong',
        description: 'Added while the catalog is failed',
        categoryId,
        priceCents: 900,
      });
      expect(late.status).toBe(201);
      const statuses = async (): Promise<ProjectionStatusBody[]> =>
        (await shop.call('GET', '/api/admin/projections')).body;
      const goneOn = (s: ProjectionStatusBody) =>
        s.status === 'live' &&
        s.position === s.headPosition &&
        BigInt(s.position) >= BigInt(late.body.position);
      await until(async () => (await statuses()).filter((s) => s.name !== 'catalog').every(goneOn));
      const all = await statuses();
      expect(all.map((s) => s.name)).toEqual(['catalog', 'search', 'orders', 'carts']);
      for (const s of all.filter((s) => s.name !== 'catalog'))
        expect(s).toMatchObject({ status: 'live', position: s.headPosition, lag: '0' });
      expect(all[0]).toMatchObject({ status: 'failed', failure: { position: bad.body.position } });
      expect(BigInt(all[0]!.position)).toBeLessThan(BigInt(bad.body.position));
      // The search index has the new product (its listing waits for the catalog).
      expect((await shop.call('GET', '/api/search?q=oolong')).body.total).toBe(1);

      const wrong = await shop.call('POST', '/api/admin/projections/catalog/skip', {
        position: '1',
      });
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
    },
  );

  it.each(STACKS)('skip and retry work on the files when no server runs (%s)', async (stack) => {
    files = await shopFiles(stack);
    const failing = catalogFailingOn((e) => e.type === 'ProductPriceUpdated', 'boom');
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

  it('retry on the files resumes a failed projection once its fix is deployed', async () => {
    files = await shopFiles();
    // A bug: this catalog cannot apply any price change. The fix is the shop's own catalog,
    // deployed by opening the shop again with it; retry, run on the files while no server runs,
    // only clears the failure: the projector of the fixed shop applies the event.
    const buggy = catalogFailingOn((e) => e.type === 'ProductPriceUpdated', 'boom');
    let shop = await files.open({ projections: [buggy, ...others] });
    const { productIds } = await seedCatalog(shop, 2);
    const bad = await shop.call('PUT', `/api/products/${productIds[0]}/price`, { priceCents: 5 });
    const next = await shop.call('PUT', `/api/products/${productIds[1]}/price`, { priceCents: 6 });
    await until(async () => shop.shop.projector?.isFailed('catalog') ?? false);
    await shop.close();

    const retry = await tworooms(files, 'retry', 'catalog');
    expect(retry).toMatchObject({ code: 0, stdout: 'catalog: retrying its failing event\n' });
    const waiting = (await tworooms(files, 'projections')).stdout;
    const at = new RegExp(
      `catalog: catching up · version ${catalogProjection.version} · generation 0 · position (\\d+) · lag [1-9]`,
    ).exec(waiting);
    expect(at, waiting).not.toBeNull();
    expect(BigInt(at![1]!)).toBeLessThan(BigInt(bad.body.position)); // not applied by the CLI
    expect(waiting).not.toContain('failed at position');

    shop = await files.open(); // the fixed catalog
    const catalog = () => statusOf(shop, 'catalog');
    await until(async () => {
      const c = await catalog();
      return c.status === 'live' && BigInt(c.position) >= BigInt(next.body.position);
    });
    expect(await catalog()).not.toHaveProperty('failure');
    expect((await shop.call('GET', `/api/products/${productIds[0]}`)).body.priceCents).toBe(5);
    expect((await shop.call('GET', `/api/products/${productIds[1]}`)).body.priceCents).toBe(6);
    await shop.close();
    const live = (await tworooms(files, 'projections')).stdout;
    expect(live).toMatch(
      new RegExp(
        `catalog: live · version ${catalogProjection.version} · generation 0 · position ${next.body.position} · lag 0`,
      ),
    );
  });

  it('retry --url resumes a projection whose failure has passed, in the server that runs it', async () => {
    files = await shopFiles();
    // A transient fault (a dependency down, a disk full): every attempt fails until it has
    // passed. The projection stays failed after that until an operator retries.
    let down = true;
    const flaky = catalogFailingOn((e) => down && e.type === 'ProductPriceUpdated', 'disk full');
    const shop = await files.open({ projections: [flaky, ...others] });
    await shop.shop.app.listen({ port: 0, host: '127.0.0.1' });
    const address = shop.shop.app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const { productIds } = await seedCatalog(shop, 2);
    const bad = await shop.call('PUT', `/api/products/${productIds[0]}/price`, { priceCents: 5 });
    const catalog = () => statusOf(shop, 'catalog');
    await until(async () => (await catalog()).status === 'failed');
    down = false;
    // The fault passing resumes nothing by itself, nor does a new event: the others apply it,
    // catalog stays failed before the event it failed on.
    const renamed = await shop.call('PATCH', `/api/products/${productIds[1]}`, { name: 'Sencha' });
    expect(renamed.status).toBe(200);
    const search = () => statusOf(shop, 'search');
    await until(async () => BigInt((await search()).position) >= BigInt(renamed.body.position));
    expect(await catalog()).toMatchObject({
      status: 'failed',
      failure: { position: bad.body.position },
    });
    expect(BigInt((await catalog()).position)).toBeLessThan(BigInt(bad.body.position));

    const retry = await tworooms(files, 'retry', 'catalog', '--url', url);
    expect(retry).toMatchObject({ code: 0, stdout: 'catalog: retrying its failing event\n' });
    await until(async () => {
      const c = await catalog();
      return c.status === 'live' && BigInt(c.position) >= BigInt(bad.body.position);
    });
    expect(await catalog()).not.toHaveProperty('failure');
    expect((await shop.call('GET', `/api/products/${productIds[0]}`)).body.priceCents).toBe(5);
    await shop.close();
  });
});
