// `tworooms seed` on PostgreSQL: the seed's batches as multi-row INSERTs (unnest over arrays)
// and one INSERT of the batch's events, one transaction each, on a connection of its own;
// the projector runs in this process meanwhile (PostgreSQL does the work, so one thread can both
// write and project) and builds the read models from the log as `serve` would.
import pg from 'pg';
import type { Config } from '../config.js';
import { eventMetadata, projector, setupReadModels, timeOrderedId } from '../core/index.js';
import type { Event } from '../core/messages.js';
import { openLeases, openReadSide, openWriteSide } from '../main.js';
import { bulkSeedEvents, runSeed, type SeedBatch, type SeedResult } from '../shop/bulk-seed.js';
import { shopProjections } from '../shop/query-handlers.js';
import { tsvectorLiteral } from '../stores/postgres/full-text.js';
import { inFlightMarker } from '../stores/postgres/schema.js';
import type { Progress } from './progress.js';
import { failureOf, slowest } from './seed-projector.js';

const BATCH_SIZE = 5_000;
const POLL_MS = 25;
const PROGRESS_EVERY_MS = 200;

/** Each column of `rows` as an array (unnest takes one array per column). */
const columns = (rows: readonly (readonly unknown[])[], width: number): unknown[][] =>
  Array.from({ length: width }, (_, c) => rows.map((r) => r[c]));

async function insert(
  client: pg.ClientBase,
  table: string,
  cols: string,
  types: readonly string[],
  rows: readonly (readonly unknown[])[],
  select = '*',
): Promise<void> {
  if (rows.length === 0) return;
  const args = types.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
  await client.query(
    `INSERT INTO ${table} (${cols}) SELECT ${select} FROM unnest(${args}) AS t(${types.map((_, i) => `c${i}`).join(', ')})`,
    columns(rows, types.length),
  );
}

/**
 * Appends events to streams that do not exist yet (the seed's ids are new), the rows
 * `tworooms_append` would write, in one INSERT: that function takes a lock and reads a stream's
 * version per append, which is most of the cost for thousands of new streams. As it does, it
 * publishes the in-flight marker before taking positions (readers then stop below them until
 * the commit), takes them in order, and notifies listeners. A stream that existed after all
 * breaks the unique (stream, version) key, and the batch rolls back.
 */
async function appendNewStreams(
  client: pg.ClientBase,
  appends: readonly { streamId: string; events: readonly Event[] }[],
): Promise<void> {
  const stream: string[] = [];
  const version: number[] = [];
  const types: string[] = [];
  const data: string[] = [];
  const metadata: string[] = [];
  for (const a of appends) {
    for (const [i, e] of a.events.entries()) {
      stream.push(a.streamId);
      version.push(i + 1);
      types.push(e.type);
      data.push(JSON.stringify(e.data));
      metadata.push(JSON.stringify(eventMetadata(e, undefined)));
    }
  }
  if (stream.length === 0) return;
  await client.query(
    `SELECT set_config('application_name', '${inFlightMarker}' ||
       (coalesce(pg_sequence_last_value('tworooms_event_position'), 0) + 1)::text, true)`,
  );
  const taken = await client.query<{ p: string[] }>(
    `SELECT array_agg(p ORDER BY p) AS p
       FROM (SELECT nextval('tworooms_event_position') AS p FROM generate_series(1, $1::int)) s`,
    [stream.length],
  );
  await client.query(
    `INSERT INTO events (position, stream_id, stream_version, type, data, metadata, recorded_at)
     SELECT u.p, u.s, u.v, u.t, u.d, u.m, $7
       FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])
         AS u(p, s, v, t, d, m)`,
    [taken.rows[0]!.p, stream, version, types, data, metadata, new Date()],
  );
  await client.query("SELECT pg_notify('tworooms_events', '')");
}

/** Writes one batch in one transaction: rows first, then its events in one statement. */
async function writeBatch(client: pg.ClientBase, batch: SeedBatch): Promise<void> {
  await client.query('BEGIN');
  try {
    await insert(
      client,
      'categories',
      'id, name, created_at',
      ['text', 'text', 'bigint'],
      batch.categories,
    );
    await insert(
      client,
      'customers',
      'id, email, name, token_hash, created_at',
      ['text', 'text', 'text', 'text', 'bigint'],
      batch.customers,
    );
    await insert(
      client,
      'products',
      'id, sku, name, description, category_id, price_cents, max_allowed_price_cents, thumbnail_url, active, created_at, updated_at',
      ['text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint'],
      batch.products,
      'c0, c1, c2, c3, c4, c5, c6, NULL, 1, c7, c7',
    );
    await insert(
      client,
      'products_fts',
      'id, doc',
      ['text', 'text'],
      batch.fullText.map((d) => [d.id, tsvectorLiteral(d)]),
      'c0, CAST(c1 AS TSVECTOR)',
    );
    await insert(
      client,
      'inventory',
      'product_id, warehouse, quantity',
      ['text', 'text', 'bigint'],
      batch.inventory,
    );
    await insert(
      client,
      'reviews',
      'id, product_id, customer_id, rating, text, created_at',
      ['text', 'text', 'text', 'smallint', 'text', 'bigint'],
      batch.reviews,
    );
    await appendNewStreams(client, batch.appends);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Seeds the PostgreSQL write DB while this process's projector builds the read models from the
 * log; resolves once every read model has caught up.
 */
export async function seedPostgres(
  config: Config,
  plan: { products: number; reviews: number; categories: number },
  progress: Progress,
): Promise<{ seeded: SeedResult; written: number }> {
  const write = await openWriteSide(config); // migrates
  const closers: (() => Promise<unknown>)[] = [() => write.close()];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const read = await openReadSide(config);
    closers.push(() => read.close());
    const projections = shopProjections();
    await setupReadModels(read.store, projections);
    // This process projects: as `serve` does, it must be the only projector of the read DB.
    const leases = await openLeases(config, 'tworooms-seed');
    closers.push(() => leases.close());
    for (const p of projections) {
      if (!(await leases.tryAcquire(p.name)))
        throw new Error(
          `projection ${p.name} already runs in another process (a \`tworooms project\` worker or a \`tworooms serve\`): stop it before seeding`,
        );
    }
    const client = new pg.Client({ connectionString: config.writeDb });
    await client.connect();
    closers.push(() => client.end());
    const worker = projector({
      log: write.log,
      store: read.store,
      projections,
      batchSize: BATCH_SIZE,
      pollMs: POLL_MS,
    });
    await worker.start();
    closers.push(() => worker.stop());
    let head: bigint;
    const check = async () => {
      const statuses = await worker.status();
      const failure = failureOf(statuses);
      if (failure) throw new Error(`building the read models failed: ${failure}`);
      return slowest(statuses);
    };
    head = (await write.headPosition()) + BigInt(bulkSeedEvents(plan));
    let lastCheck = 0;
    const seeded = await runSeed(
      { ...plan, newId: timeOrderedId, now: new Date() },
      async (batch) => {
        await writeBatch(client, batch);
        for (const [phase, done, total] of batch.progress) progress.update(phase, done, total);
        if (performance.now() - lastCheck > PROGRESS_EVERY_MS) {
          lastCheck = performance.now();
          progress.update('projecting', Number(await check()), Number(head));
        }
      },
    );
    const written = performance.now();
    head = await write.headPosition();
    const ticker = setInterval(() => {
      void worker
        .status()
        .then((s) => progress.update('projecting', Number(slowest(s)), Number(head)));
    }, PROGRESS_EVERY_MS);
    try {
      const outcome = await worker.waitFor(
        head,
        projections.map((p) => p.name),
        24 * 3600_000,
      );
      const position = await check();
      if (!outcome.reached)
        throw new Error('building the read models stopped before the end of the log');
      progress.update('projecting', Number(position), Number(head));
    } finally {
      clearInterval(ticker);
    }
    // A bulk load leaves the planner without statistics until autovacuum gets round to it:
    // queries right after the seed (a benchmark cloning the databases at once) would plan blind.
    progress.update('analyzing', 0, 2);
    await client.query('ANALYZE');
    const readClient = new pg.Client({ connectionString: config.readDb });
    await readClient.connect();
    try {
      await readClient.query('ANALYZE');
    } finally {
      await readClient.end();
    }
    progress.update('analyzing', 2, 2);
    return { seeded, written };
  } finally {
    await close();
  }
}
