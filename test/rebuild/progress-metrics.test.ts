// Progress and metrics while a blue/green rebuild runs, not only once it is done: the admin API
// shows the copy's phase, position against the head, events done, events/s and time left; the
// Prometheus scrape shows the projection's state, the rebuild's ratio and time left, and the lag
// of a live copy left behind (frozen at its old version while the new one is built, or failed).
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/core/index.js';
import { catalogProjection } from '../../src/shop/catalog/projection.js';
import type { ShopEvent } from '../../src/shop/events.js';
import { shopProjections } from '../../src/shop/query-handlers.js';
import {
  catalogFailingOn,
  type ProjectionStatusBody,
  type ShopFiles,
  STACKS,
  seedCatalog,
  shopFiles,
  statusOf,
  type TestShop,
} from './shop.js';

let files: ShopFiles | undefined;
let open: TestShop | undefined;
/** Lets a held copy go on (so that a failed assertion does not leave the shop unable to stop). */
let release: (() => void) | undefined;
afterEach(async () => {
  release?.();
  release = undefined;
  await open?.close();
  open = undefined;
  await files?.remove();
  files = undefined;
});

const others = shopProjections().filter((p) => p.name !== 'catalog');
type Apply = Parameters<typeof catalogProjection.apply>;

/**
 * The progress of a copy held after its first batch: that batch's events done, a position
 * between 0 and the head, a rate and a time left.
 */
function heldAfterOneBatch(status: ProjectionStatusBody, batchSize: number) {
  const progress = status.rebuild!;
  expect(progress.events).toBe(batchSize); // the first batch, committed; the second is held
  expect(BigInt(progress.position)).toBeGreaterThan(0n);
  expect(BigInt(progress.position)).toBeLessThan(BigInt(progress.headPosition));
  expect(progress.eventsPerSecond).toBeTypeOf('number');
  expect(progress.eventsPerSecond).toBeGreaterThan(0);
  expect(progress.secondsLeft).toBeTypeOf('number');
  expect(progress.secondsLeft).toBeGreaterThanOrEqual(0);
  return progress;
}

/**
 * The catalog's lag in seconds (the age of the oldest event it has not applied) becomes above 0
 * and is never more than the time since `sentAt`, when the command it has not applied was sent.
 */
async function expectLagSecondsSince(shop: TestShop, sentAt: number): Promise<void> {
  const lagSeconds = async () =>
    sample(await scrape(shop), 'tworooms_projection_lag_seconds', 'projection="catalog"');
  await expect.poll(lagSeconds).toBeGreaterThan(0);
  expect(await lagSeconds()).toBeLessThanOrEqual((Date.now() - sentAt) / 1000);
}

async function scrape(shop: TestShop): Promise<string> {
  const r = await shop.shop.app.inject({ method: 'GET', url: '/metrics' });
  expect(r.statusCode).toBe(200);
  return r.body;
}

/** The value of `name{labels}` in a scrape, or undefined when the series is absent. */
function sample(metrics: string, name: string, labels: string): number | undefined {
  const prefix = `${name}{${labels}} `;
  const line = metrics.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

/** The states the scrape reports for a projection (the state gauge keeps only the current one). */
const statesOf = (metrics: string, projection: string) =>
  [...metrics.matchAll(/^tworooms_projection_state\{projection="([^"]+)",state="([^"]+)"\} 1$/gm)]
    .filter((m) => m[1] === projection)
    .map((m) => m[2]);

describe.each(STACKS)('rebuild progress and metrics (%s)', (stack) => {
  it('reports a held rebuild through the admin API and /metrics, and the frozen copy’s lag', async () => {
    files = await shopFiles(stack);
    open = await files.open();
    const { productIds } = await seedCatalog(open, 12);
    await open.shop.projector?.catchUp();
    await open.close();
    open = undefined;

    // A new version of the catalog: its copy is built beside the frozen live copy, and held in
    // its second batch (the first one committed) until the test has looked.
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let batches = 0;
    const next = {
      ...catalogProjection,
      version: catalogProjection.version + 1,
      async apply(events: readonly RecordedEvent<ShopEvent>[], db: Apply[1], context?: Apply[2]) {
        if (++batches > 1) await gate;
        return catalogProjection.apply(events, db, context);
      },
    };
    const batchSize = 5;
    const shop = await files.open({ projections: [next, ...others], batchSize });
    open = shop;
    await expect.poll(() => batches, { timeout: 10_000 }).toBe(2);
    // A command while the live copy is frozen at the old version: it falls behind the head.
    const beforeWrite = Date.now();
    const put = await shop.call('PUT', `/api/products/${productIds[0]}/price`, {
      priceCents: 4242,
    });
    expect(put.status).toBe(200);

    const mid = await statusOf(shop, 'catalog');
    expect(mid).toMatchObject({
      version: catalogProjection.version + 1,
      status: 'rebuilding',
      rebuild: { phase: 'building', generation: 1, headPosition: mid.headPosition },
    });
    const progress = heldAfterOneBatch(mid, batchSize);
    const lag = BigInt(mid.lag);
    expect(lag).toBeGreaterThan(0n);
    expect(lag).toBe(BigInt(mid.headPosition) - BigInt(mid.position));

    // The same picture in the scrape (nothing is appended meanwhile: the figures hold still).
    const metrics = await scrape(shop);
    expect(statesOf(metrics, 'catalog')).toEqual(['rebuilding']);
    expect(sample(metrics, 'tworooms_projection_failed', 'projection="catalog"')).toBe(0);
    const ratio = sample(
      metrics,
      'tworooms_projection_rebuild_progress_ratio',
      'projection="catalog"',
    );
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThan(1);
    expect(ratio).toBeCloseTo(Number(progress.position) / Number(progress.headPosition), 9);
    const left = sample(
      metrics,
      'tworooms_projection_rebuild_seconds_left',
      'projection="catalog"',
    );
    expect(left).toBeTypeOf('number');
    expect(left).toBeGreaterThanOrEqual(0);
    expect(
      sample(metrics, 'tworooms_projection_rebuild_events_per_second', 'projection="catalog"'),
    ).toBeGreaterThan(0);
    expect(sample(metrics, 'tworooms_projection_lag_events', 'projection="catalog"')).toBe(
      Number(lag),
    );
    // Lag in time: the age of the price change the frozen copy has not applied; above 0 as soon
    // as a millisecond has passed, and never more than the time since the command was sent.
    await expectLagSecondsSince(shop, beforeWrite);

    // Released: the copy catches up and switches in; the lag goes with it.
    release?.();
    release = undefined;
    await expect
      .poll(async () => (await statusOf(shop, 'catalog')).rebuild?.phase, { timeout: 10_000 })
      .toBe('done');
    const done = (await statusOf(shop, 'catalog')).rebuild!;
    expect(progress.events).toBeLessThan(done.events);
    await expect
      .poll(async () => {
        const m = await scrape(shop);
        return {
          states: statesOf(m, 'catalog'),
          lag: sample(m, 'tworooms_projection_lag_events', 'projection="catalog"'),
          ratio: sample(m, 'tworooms_projection_rebuild_progress_ratio', 'projection="catalog"'),
        };
      })
      .toEqual({ states: ['live'], lag: 0, ratio: 1 });
    expect((await shop.call('GET', `/api/products/${productIds[0]}`)).body.priceCents).toBe(4242);
  });

  it('reports an operator’s rebuild (POST …/rebuild) mid-way while the live copy stays live', async () => {
    files = await shopFiles(stack);
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let copyBatches = 0;
    const catalog = {
      ...catalogProjection,
      async apply(events: readonly RecordedEvent<ShopEvent>[], db: Apply[1], context?: Apply[2]) {
        // Only a copy being built is given a context: the live copy's batches are never held.
        if (context && ++copyBatches > 1) await gate;
        return catalogProjection.apply(events, db, context);
      },
    };
    const batchSize = 5;
    const shop = await files.open({ projections: [catalog, ...others], batchSize });
    open = shop;
    await seedCatalog(shop, 12);
    await shop.shop.projector?.catchUp();
    const started = await shop.call('POST', '/api/admin/projections/catalog/rebuild');
    expect(started).toEqual({ status: 202, body: { name: 'catalog', status: 'rebuilding' } });
    await expect.poll(() => copyBatches, { timeout: 10_000 }).toBe(2);

    const mid = await statusOf(shop, 'catalog');
    expect(mid).toMatchObject({ status: 'live', lag: '0', rebuild: { phase: 'building' } });
    const progress = heldAfterOneBatch(mid, batchSize);
    const metrics = await scrape(shop);
    expect(statesOf(metrics, 'catalog')).toEqual(['live']);
    const ratio = sample(
      metrics,
      'tworooms_projection_rebuild_progress_ratio',
      'projection="catalog"',
    );
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThan(1);
    expect(
      sample(metrics, 'tworooms_projection_rebuild_seconds_left', 'projection="catalog"'),
    ).toBeGreaterThanOrEqual(0);
    expect(sample(metrics, 'tworooms_projection_lag_events', 'projection="catalog"')).toBe(0);

    release?.();
    release = undefined;
    await expect
      .poll(async () => (await statusOf(shop, 'catalog')).rebuild?.phase, { timeout: 10_000 })
      .toBe('done');
    expect((await statusOf(shop, 'catalog')).rebuild!.events).toBeGreaterThan(progress.events);
  });

  it('shows a failed projection as failed in /metrics, with the lag it leaves', async () => {
    files = await shopFiles(stack);
    const failing = catalogFailingOn(
      (e) => e.type === 'ProductPriceUpdated',
      'a bug in price updates',
    );
    const shop = await files.open({ projections: [failing, ...others] });
    open = shop;
    const { productIds } = await seedCatalog(shop, 2);
    await expect
      .poll(async () => {
        const m = await scrape(shop);
        return {
          states: statesOf(m, 'catalog'),
          failed: sample(m, 'tworooms_projection_failed', 'projection="catalog"'),
          lag: sample(m, 'tworooms_projection_lag_events', 'projection="catalog"'),
        };
      })
      .toEqual({ states: ['live'], failed: 0, lag: 0 });

    const beforeWrite = Date.now();
    const put = await shop.call('PUT', `/api/products/${productIds[1]}/price`, {
      priceCents: 777,
    });
    expect(put.status).toBe(200);
    // Retried with back-off (five attempts), then stopped as failed.
    await expect
      .poll(async () => (await statusOf(shop, 'catalog')).status, { timeout: 10_000 })
      .toBe('failed');
    const status = await statusOf(shop, 'catalog');
    const metrics = await scrape(shop);
    expect(statesOf(metrics, 'catalog')).toEqual(['failed']);
    expect(metrics).toContain('tworooms_projection_state{projection="catalog",state="failed"} 1');
    expect(sample(metrics, 'tworooms_projection_failed', 'projection="catalog"')).toBe(1);
    // Only the catalog failed.
    for (const p of others)
      expect(sample(metrics, 'tworooms_projection_failed', `projection="${p.name}"`)).toBe(0);
    const lag = Number(status.lag);
    expect(lag).toBeGreaterThan(0);
    expect(sample(metrics, 'tworooms_projection_lag_events', 'projection="catalog"')).toBe(lag);
    await expectLagSecondsSince(shop, beforeWrite);
  });
});
