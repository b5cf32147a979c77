// A tool for profiling the catalog rebuild, not a benchmark of record (that is `npm run bench --
// rebuild`): seeds a shop log once into a directory kept between runs (or a PostgreSQL write DB),
// builds the live catalog once, then times blue/green rebuilds of it, one after the other, with
// the bare-driver ceiling on the same log beside them. Profile with
//   flock -x /tmp/tworooms-cpu.lock node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof \
//     bench/rebuild-profile.ts --stack sqlite --events 200000 --dir /tmp/rebuild-profile
// Options: --stack sqlite|pg (default sqlite), --events N (default 200,000), --dir D (the SQLite
// files; PostgreSQL uses databases named after it), --rounds N (default 1), --no-ceiling, --batch N
// (events per projector batch, default 2,000 as the benchmark's), --fields all (the catalog read
// through the log's full readAll instead of its lean read).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { basename, join } from 'node:path';
import pg from 'pg';
import { projector } from '../src/core/index.js';
import { catalogProjection } from '../src/shop/catalog/projection.js';
import { rawReplay } from './rebuild.js';
import { seedShopLog, sqliteRebuildStack } from './shop-rebuild.js';
import { postgresRebuildStack, rawReplayPg, seedShopLogPg } from './shop-rebuild-pg.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const stackName = flag('stack') ?? 'sqlite';
const events = Number(flag('events') ?? 200_000);
const dir = flag('dir') ?? `/tmp/tworooms-rebuild-profile-${events}`;
const rounds = Number(flag('rounds') ?? 1);
const batchSize = Number(flag('batch') ?? 2000);
mkdirSync(dir, { recursive: true });

async function pgDatabase(name: string): Promise<{ url: string; fresh: boolean }> {
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await admin.query(`CREATE DATABASE "${name}"`);
    return { url: `postgres://postgres@127.0.0.1:5432/${name}`, fresh: !rowCount };
  } finally {
    await admin.end();
  }
}

let total: number;
let stack: Awaited<ReturnType<typeof postgresRebuildStack>>;
let ceiling: () => Promise<number>;
if (stackName === 'pg') {
  const tag = basename(dir)
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase();
  const write = await pgDatabase(`${tag}_write`);
  const read = await pgDatabase(`${tag}_read`);
  if (write.fresh) {
    console.log(`seeding ${events} events into PostgreSQL…`);
    await seedShopLogPg(write.url, events);
  }
  const c = new pg.Client({ connectionString: write.url });
  await c.connect();
  total = Number((await c.query('SELECT max(position) AS n FROM events')).rows[0].n);
  await c.end();
  stack = await postgresRebuildStack(write.url, read.url);
  ceiling = () => rawReplayPg(write.url, read.url, total);
} else {
  const writePath = join(dir, 'shop-write.db');
  if (!existsSync(writePath)) {
    console.log(`seeding ${events} events into SQLite…`);
    await seedShopLog(writePath, events);
  }
  stack = sqliteRebuildStack(writePath, dir, 0);
  const log = stack.log;
  total = Number(await log.headPosition());
  ceiling = () => rawReplay(writePath, dir, 99, total);
}

const p = projector({
  log: stack.log,
  store: stack.store,
  projections: [
    flag('fields') === 'all'
      ? ({ ...catalogProjection, eventFields: 'all' } as unknown as typeof catalogProjection)
      : catalogProjection,
  ],
  batchSize,
});
try {
  await p.start();
  let t = performance.now();
  if (!(await p.catchUp(3_600_000)).reached) throw new Error('the live catalog did not catch up');
  console.log(`live catalog at ${total} events (${Math.round(performance.now() - t)} ms)`);
  for (let r = 0; r < rounds; r++) {
    if (!args.includes('--no-ceiling'))
      console.log(`ceiling: ${Math.round(await ceiling())} events/s`);
    const profile = flag('profile');
    const session = profile && r === rounds - 1 ? new Session() : undefined;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    t = performance.now();
    await p.rebuild('catalog');
    const s = (performance.now() - t) / 1000;
    if (session && profile) {
      const { profile: taken } = await session.post('Profiler.stop');
      writeFileSync(profile, JSON.stringify(taken));
      session.disconnect();
    }
    console.log(`rebuild: ${Math.round(total / s)} events/s (${s.toFixed(2)} s)`);
  }
} finally {
  await p.stop();
  await stack.close();
}
