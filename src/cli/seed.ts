import { randomUUID } from 'node:crypto';
import { MultiBar, Presets } from 'cli-progress';
import type { Config } from '../config.js';
import { mapReadStore, mapWriteStore, projector } from '../core/index.js';
import { openWriteStore } from '../main.js';
import { bulkSeed } from '../shop/bulk-seed.js';
import { shopProjections } from '../shop/query-handlers.js';
import { SqliteReadStore, sqliteFullText, sqliteSql } from '../stores/sqlite/index.js';

/** `tworooms seed`: bulk-loads a catalog, then projects it, with a progress bar for each. */
export async function seedCommand(
  config: Config,
  opts: { products: number; reviews?: number; categories: number },
): Promise<void> {
  const reviews = opts.reviews ?? opts.products * 10;
  const categories = Math.max(1, opts.categories);
  const started = performance.now();
  const store = await openWriteStore(config);
  // A bulk load touches index pages all over a large file: give SQLite room to keep them (1 GiB).
  store.db.pragma('cache_size = -1048576');
  const bars = new MultiBar(
    {
      format: ' {phase} |{bar}| {percentage}% {value}/{total} {rate}/s',
      hideCursor: true,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
  const barFor = new Map<string, ReturnType<MultiBar['create']>>();
  const progress = (phase: string, done: number, total: number) => {
    let bar = barFor.get(phase);
    if (!bar) {
      bar = bars.create(total, 0, { phase: phase.padEnd(10), rate: 0 });
      barFor.set(phase, bar);
    }
    const seconds = (performance.now() - started) / 1000;
    bar.update(done, { rate: Math.round(done / Math.max(seconds, 0.001)).toLocaleString('en-US') });
  };
  try {
    const seeded = await bulkSeed(mapWriteStore(store, sqliteSql), sqliteFullText, {
      products: opts.products,
      reviews: opts.products === 0 ? 0 : reviews,
      categories,
      newId: randomUUID,
      now: new Date(),
      progress,
    });
    const written = performance.now();
    // Build the read models now, so the first `serve` starts caught up.
    const read = new SqliteReadStore({ path: config.readDb });
    const worker = projector({
      log: store.log,
      store: mapReadStore(read, (db) => ({ sql: sqliteSql(db), fullText: sqliteFullText })),
      projections: shopProjections(),
      batchSize: 20_000,
    });
    await worker.start();
    const head = await store.headPosition();
    const timer = setInterval(async () => {
      const statuses = await worker.status();
      const slowest = statuses.reduce((min, s) => (s.position < min ? s.position : min), head);
      progress('projecting', Number(slowest), Number(head));
    }, 200);
    const outcome = await worker.catchUp(600_000);
    clearInterval(timer);
    progress('projecting', Number(head), Number(head));
    await worker.stop();
    await read.close();
    bars.stop();
    if (!outcome.reached) throw new Error(`the read models did not catch up (${outcome.reason})`);
    const total = (performance.now() - started) / 1000;
    console.log(
      `seeded ${seeded.products.toLocaleString('en-US')} products, ${seeded.reviews.toLocaleString('en-US')} reviews, ` +
        `${seeded.events.toLocaleString('en-US')} events in ${((written - started) / 1000).toFixed(1)} s; ` +
        `read models built in ${(total - (written - started) / 1000).toFixed(1)} s; total ${total.toFixed(1)} s`,
    );
  } finally {
    bars.stop();
    await store.close();
  }
}
