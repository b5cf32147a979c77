// The flash-sale benchmark (issue #7): one seeded catalog, four runs on copies of it — level 1
// (reads on the write DB) and level 2 (read model + cache), each idle and under the sale's
// writes — driven by an open-model load generator in a worker thread, plus closed-loop phases
// for the order throughput and for cached catalog pages against a bare-Fastify ceiling.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { latencyChart } from './flash/chart.js';
import { type LoadResult, type OpenStream, runLoad, type Summary } from './flash/loadgen.js';
import { type OrdersSummary, placeOrders } from './flash/orders-load.js';
import { caughtUp, prepareSale, setStock } from './flash/setup.js';
import { openStack, type StackName } from './flash/stacks.js';
import {
  type Catalog,
  orderRequests,
  type Req,
  readRequests,
  writeRequests,
} from './flash/traffic.js';
import { type BenchOptions, type Metrics, median, ratio, scratch } from './lib.js';
import { startServer } from './server.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const ceilingScript = fileURLToPath(new URL('./flash/ceiling-server.ts', import.meta.url));

interface Settings {
  products: number;
  reads: number;
  writes: number;
  seconds: number;
  rate: number | undefined;
  capacitySeconds: number;
  stack: StackName;
  hot: number;
  hotUnits: number;
  customers: number;
  orderSeconds: number;
  ceilingSeconds: number;
  ceilingRounds: number;
  connections: number;
  readThreads: number;
  /** Rounds of the four runs (interleaved), figures reported as medians over rounds. */
  rounds: number;
  /** The levels to run (default both; one alone to profile it, the ratios then stay unset). */
  levels: readonly Level[];
  chart: string | undefined;
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}

function count(args: readonly string[], name: string, fallback: number, min = 1): number {
  const v = flag(args, name);
  if (v === undefined) return fallback;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min || n > 10_000_000)
    throw new Error(`--${name} must be a whole number from ${min} to 10,000,000 (got ${v})`);
  return n;
}

const FLAGS = [
  'quick',
  'no-peer',
  'products',
  'reads',
  'writes',
  'seconds',
  'rate',
  'stack',
  'read-threads',
  'rounds',
  'levels',
  'chart',
];

export function settingsOf(o: BenchOptions): Settings {
  const unknown = o.args.filter((a) => a.startsWith('--') && !FLAGS.includes(a.slice(2)));
  if (unknown.length > 0)
    throw new Error(`unknown option ${unknown.join(', ')} (known: --${FLAGS.join(', --')})`);
  const stack = flag(o.args, 'stack') ?? 'embedded';
  if (stack !== 'embedded' && stack !== 'production')
    throw new Error(`--stack must be embedded or production (got ${stack})`);
  const q = o.quick;
  const levels = levelsOf(flag(o.args, 'levels') ?? 'l1,l2');
  if (!levels.includes('l1') && flag(o.args, 'rate') === undefined)
    throw new Error("--levels without l1 needs --rate (the sale's rate comes from level 1)");
  return {
    products: count(o.args, 'products', q ? 2_000 : 100_000, 100),
    reads: count(o.args, 'reads', q ? 1_500 : 50_000),
    writes: count(o.args, 'writes', q ? 240 : 8_000, 0),
    seconds: count(o.args, 'seconds', q ? 3 : 40),
    rate: flag(o.args, 'rate') === undefined ? undefined : count(o.args, 'rate', 0),
    capacitySeconds: q ? 1 : 8,
    stack,
    hot: q ? 20 : 100,
    hotUnits: q ? 300 : 1_000,
    customers: q ? 20 : 500,
    orderSeconds: q ? 1 : 10,
    ceilingSeconds: q ? 1 : 8,
    ceilingRounds: q ? 1 : 3,
    connections: 64,
    readThreads: count(o.args, 'read-threads', 2, 0),
    rounds: count(o.args, 'rounds', q ? 1 : 3),
    levels,
    // The chart of the read latencies (default: the one docs/benchmarks.md embeds; none in --quick).
    chart: flag(o.args, 'chart') ?? (q ? undefined : 'docs/flash-sale.svg'),
  };
}

function levelsOf(v: string): Level[] {
  const levels = v.split(',').map((l) => l.trim());
  const known = (l: string): l is Level => l === 'l1' || l === 'l2';
  const bad = levels.filter((l) => !known(l));
  if (bad.length > 0 || levels.length === 0)
    throw new Error(`--levels must be l1, l2 or l1,l2 (got ${v})`);
  return [...new Set(levels.filter(known))];
}

const started = performance.now();
/** A progress line with the time since the benchmark started. */
const log = (message: string) =>
  console.log(`bench +${((performance.now() - started) / 1000).toFixed(1)} s: ${message}`);

/** The sale's read rate as a fraction of level 1's idle capacity (unless --rate). */
const PEAK = 0.8;

interface Rate {
  readonly reads: number;
  readonly writes: number;
  readonly seconds: number;
}

/**
 * The sale's fixed rates: `--rate` reads/s, or 80% of level 1's idle read capacity (a peak the
 * old design was sized for: it copes when idle, and the sale's writes push it over); writes in
 * the `--reads : --writes` proportion; as long as sending `--reads` takes, at most `--seconds`.
 */
function rateOf(s: Settings, l1Capacity: number): Rate {
  const reads = s.rate ?? Math.max(10, Math.round(PEAK * l1Capacity));
  const seconds = Math.max(1, Math.min(s.seconds, Math.round(s.reads / reads)));
  const r = { reads, writes: (reads * s.writes) / s.reads, seconds };
  console.log(
    `the sale sends ${r.reads} reads/s${s.writes ? ` + ${r.writes.toFixed(0)} writes/s` : ''} for ${r.seconds} s per run` +
      (s.rate ? '' : ` (${PEAK * 100}% of level 1's ${l1Capacity} reads/s)`),
  );
  return r;
}

/** Requests each ceiling connection keeps in flight (HTTP/1.1 pipelining). */
const CEILING_PIPELINING = 4;

/** Units per warehouse of each hot product before the order throughput phase. */
const ORDER_PHASE_UNITS = 100_000;

type Level = 'l1' | 'l2';
type RunName = `${Level}_${'idle' | 'loaded'}`;

interface RunFigures {
  sale: LoadResult;
  orders?: OrdersSummary;
  cached?: number[];
  ceiling?: number[];
  floor?: Summary;
  audit?: Awaited<ReturnType<ReturnType<typeof openStack>['audit']>>;
}

export async function flashSaleBench(options: BenchOptions): Promise<Metrics> {
  const s = settingsOf(options);
  if (!existsSync(cli)) throw new Error('dist/ is missing: run `npm run build` first');
  const stack = openStack(s.stack);
  const adminToken = randomBytes(18).toString('base64url');
  const withToken = (env: Record<string, string>) => ({ ...env, TWOROOMS_ADMIN_TOKEN: adminToken });
  const rounds: Partial<Record<RunName, RunFigures>>[] = [];
  try {
    await stack.prepare();
    log(
      `seeding ${s.products.toLocaleString('en-US')} products, 50 categories, 3 warehouses, ` +
        `${(s.products * 10).toLocaleString('en-US')} reviews (${s.stack} stack)…`,
    );
    const seedStarted = performance.now();
    execFileSync(process.execPath, [cli, 'seed', '--products', String(s.products)], {
      env: { ...process.env, ...withToken(stack.baseEnv) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    const setup = await startServer(withToken(stack.baseEnv));
    let catalog: Catalog;
    try {
      catalog = await prepareSale(setup.url, adminToken, s);
    } finally {
      await setup.stop();
    }
    const reads = readRequests(catalog, s.reads);
    const writes = writeRequests(catalog, s.writes);
    let rate: Rate | undefined;
    const capacity: Partial<Record<Level, number>> = {};
    // Rounds of the four runs, the level order alternating (l1 first, then l2 first, …) so that
    // a drift of the shared machine's load does not always fall on the same level. The read
    // capacity and the ceiling are measured in the first round only; the order throughput in
    // every round (its median is the figure).
    const schedule = Array.from({ length: s.rounds }, (_, round) =>
      (round % 2 === 0 ? s.levels : [...s.levels].reverse()).map(
        (level) => [round, level] as const,
      ),
    ).flat();
    for (const [round, level] of schedule) {
      rounds[round] ??= {};
      const runs = rounds[round];
      const first = round === 0;
      for (const loaded of [false, true]) {
        const name: RunName = `${level}_${loaded ? 'loaded' : 'idle'}`;
        const label = s.rounds > 1 ? `round ${round + 1}/${s.rounds}: ${name}` : name;
        const copy = await stack.copy(name);
        try {
          const server = await startServer(
            withToken({
              ...copy.env,
              TWOROOMS_READS: level === 'l1' ? 'write-db' : 'read-model',
              // Both levels alike: SQLite queries on worker threads (0: on the event loop).
              TWOROOMS_READ_THREADS: String(s.readThreads),
            }),
          );
          try {
            if (level === 'l2') await caughtUp(server.url, adminToken);
            if (!loaded && first) {
              // Closed loop: how many reads/s this level serves at most, idle. Level 1's figure
              // sets the sale's read rate (unless --rate), so level 1 starts healthy.
              log(`${level} read capacity (closed loop)…`);
              const max = await runLoad({
                mode: 'closed',
                url: server.url,
                durationMs: s.capacitySeconds * 1000,
                name: 'reads',
                concurrency: 16,
                requests: reads,
                timeoutMs: 10_000,
              });
              capacity[level] = max.streams['reads']!.okPerS;
            }
            rate ??= rateOf(s, capacity.l1 ?? 0);
            const r = rate;
            const open = (streams: OpenStream[], ms: number) =>
              runLoad({
                mode: 'open',
                url: server.url,
                durationMs: ms,
                streams,
                probeLag: level === 'l2',
                connections: s.connections,
                timeoutMs: 10_000,
              });
            // Warm-up (discarded): caches and JIT warm, as in a shop that has been up a while.
            await open(
              [{ name: 'reads', ratePerS: r.reads, requests: reads.slice().reverse() }],
              Math.min(3000, r.seconds * 300),
            );
            const streams: OpenStream[] = [{ name: 'reads', ratePerS: r.reads, requests: reads }];
            if (loaded && r.writes > 0)
              streams.push({ name: 'writes', ratePerS: r.writes, requests: writes });
            log(`${label}…`);
            const figures: RunFigures = { sale: await open(streams, r.seconds * 1000) };
            if (level === 'l2' && loaded) {
              // Fresh stock first: the sale's stock counts and orders have emptied the hottest
              // products, and this phase measures placements, not refusals.
              await setStock(server.url, adminToken, catalog.hot, ORDER_PHASE_UNITS);
              log('orders at full speed (closed loop)…');
              figures.orders = await placeOrders(server.url, orderRequests(catalog, 200_000), {
                connections: 32,
                seconds: s.orderSeconds,
              });
            }
            if (level === 'l2' && !loaded && first)
              Object.assign(figures, await ceilingPhases(server.url, catalog, s, r, reads));
            runs[name] = figures;
          } finally {
            await server.stop();
          }
          if (loaded) runs[name]!.audit = await stack.audit(copy.env);
        } finally {
          await copy.drop();
        }
      }
    }
    const r = rate!;
    const metrics = mediansOf(rounds.map((runs) => metricsOf(runs, s, seedSeconds, r, capacity)));
    if (s.chart) writeChart(s.chart, rounds[0]!, s, r);
    rounds.forEach((runs, i) => {
      printRuns(runs, s.rounds > 1 ? ` (round ${i + 1} of ${s.rounds})` : '');
    });
    return metrics;
  } finally {
    await stack.cleanup();
  }
}

/**
 * Cached catalog pages at full speed vs the bare-Fastify ceiling answering the same bytes from
 * memory, same load tool, same connections, alternating rounds.
 */
async function ceilingPhases(
  url: string,
  catalog: Catalog,
  s: Settings,
  r: Rate,
  reads: readonly Req[],
) {
  const paths = catalog.categories.slice(0, 8).map((c) => `/api/catalog?category=${c.id}&page=1`);
  const body = await (await fetch(`${url}${paths[0]}`)).text();
  const tmp = scratch('ceiling');
  mkdirSync(tmp.dir, { recursive: true });
  writeFileSync(join(tmp.dir, 'page.json'), body);
  const ceiling = await startServer(
    { CEILING_BODY: join(tmp.dir, 'page.json') },
    [],
    ceilingScript,
  );
  // autocannon with HTTP pipelining: the lightest client at hand, so that on this machine the
  // server, not the client, runs out of CPU first (the load generator's Node http client could
  // not saturate the bare route).
  let next = 0;
  const closed = async (target: string, seconds = s.ceilingSeconds) => {
    const r = await autocannon({
      url: target,
      connections: s.connections,
      pipelining: CEILING_PIPELINING,
      duration: seconds,
      requests: [{ setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length]! }) }],
    });
    const failed = r.errors + r.timeouts + r.non2xx;
    if (failed > 0) throw new Error(`${target}: ${failed} failed requests in the ceiling phase`);
    return r.requests.average;
  };
  const cached: number[] = [];
  const bare: number[] = [];
  let floor: Summary | undefined;
  try {
    log('cached catalog pages vs the bare-Fastify ceiling (closed loop)…');
    const warmUp = Math.min(2, s.ceilingSeconds);
    await closed(url, warmUp);
    await closed(ceiling.url, warmUp);
    for (let round = 0; round < s.ceilingRounds; round++) {
      cached.push(await closed(url));
      bare.push(await closed(ceiling.url));
    }
    // The floor: the sale's catalog requests at the sale's read rate, through the same open-model
    // load generator, answered by the bare route from memory. What a catalog page's latency
    // cannot go below on this machine with this generator (its timer, the HTTP round trip).
    log('the load generator floor: the bare route at the sale read rate (open model)…');
    const catalogReads = reads.filter((q) => q.kind === 'catalog');
    const open = (ms: number) =>
      runLoad({
        mode: 'open',
        url: ceiling.url,
        durationMs: ms,
        streams: [{ name: 'floor', ratePerS: r.reads, requests: catalogReads }],
        probeLag: false,
        connections: s.connections,
        timeoutMs: 10_000,
      });
    await open(1000);
    floor = (await open(Math.min(r.seconds, FLOOR_SECONDS) * 1000)).streams['floor'];
  } finally {
    await ceiling.stop();
    tmp.cleanup();
  }
  return { cached, ceiling: bare, ...(floor ? { floor } : {}) };
}

/** How long the floor run lasts at most (s). */
const FLOOR_SECONDS = 15;

const round2 = (n: number) => Math.round(n * 100) / 100;

function metricsOf(
  runs: Partial<Record<RunName, RunFigures>>,
  s: Settings,
  seedSeconds: number,
  rate: Rate,
  capacity: Partial<Record<Level, number>>,
): Metrics {
  const m: Metrics = {
    products: s.products,
    reviews: s.products * 10,
    seed_s: round2(seedSeconds),
    l1_read_capacity_per_s: capacity.l1 ?? Number.NaN,
    l2_read_capacity_per_s: capacity.l2 ?? Number.NaN,
    read_rate_per_s: Math.round(rate.reads),
    write_rate_per_s: Math.round(rate.writes),
    sale_s: rate.seconds,
  };
  // One scheme, `<level>_<stream>_<figure>_<idle|loaded>`, of which the issue's names
  // (`l1_read_p99_ms_loaded`, …) are instances. Streams: `read` (every read of the sale: catalog
  // pages, product documents and searches), `catalog` (catalog pages only), `product`
  // (product documents), `search`, `write` (every write of the sale).
  const put = (level: Level, stream: string, state: string, x: Summary | undefined) => {
    if (!x) return;
    const figures = {
      per_s: x.okPerS,
      p50_ms: x.p50,
      p95_ms: x.p95,
      p99_ms: x.p99,
      max_ms: x.max,
      errors: x.errors,
    };
    for (const [k, v] of Object.entries(figures)) m[`${level}_${stream}_${k}_${state}`] = v;
  };
  for (const [name, run] of Object.entries(runs) as [RunName, RunFigures][]) {
    const [level, state] = name.split('_') as [Level, string];
    put(level, 'read', state, run.sale.streams['reads']);
    put(level, 'catalog', state, run.sale.streams['reads.catalog']);
    put(level, 'product', state, run.sale.streams['reads.detail']);
    put(level, 'search', state, run.sale.streams['reads.search']);
    put(level, 'write', state, run.sale.streams['writes']);
    // Level 2: the share of each kind of read answered from the cache, and a miss's p99.
    for (const [stream, kind] of [
      ['catalog', 'catalog'],
      ['product', 'detail'],
      ['search', 'search'],
    ] as const) {
      const hits = run.sale.streams[`reads.${kind}.cache`];
      const misses = run.sale.streams[`reads.${kind}.read-model`];
      if (!hits && !misses) continue;
      const [h, n] = [hits?.count ?? 0, misses?.count ?? 0];
      m[`${level}_${stream}_cache_share_${state}`] = round2((100 * h) / (h + n)) / 100;
      if (misses) m[`${level}_${stream}_miss_p99_ms_${state}`] = misses.p99;
      if (hits) m[`${level}_${stream}_hit_p99_ms_${state}`] = hits.p99;
    }
    const w = run.sale.streams['writes.order'];
    if (w) m[`${level}_orders_sold_out_${state}`] = w.soldOut;
    if (run.audit) {
      m[`${level}_oversold_units`] = run.audit.oversoldUnits;
      m[`${level}_stock_mismatch_units`] = run.audit.mismatchedUnits + run.audit.negativeRows;
    }
  }
  for (const stream of ['read', 'catalog', 'product', 'search']) {
    const p99 = (level: Level, state: string) => m[`${level}_${stream}_p99_ms_${state}`];
    // Level 1's p99 over level 2's during the sale (target ≥ 20 for catalog pages)…
    m[`l1_vs_l2_${stream}_p99_loaded`] = ratio(p99('l1', 'loaded'), p99('l2', 'loaded'));
    // …and level 2's p99 with the sale's writes over without (target ≤ 1.5).
    m[`l2_${stream}_p99_loaded_vs_idle`] = ratio(p99('l2', 'loaded'), p99('l2', 'idle'));
  }
  const idle = runs.l2_idle;
  if (idle?.cached && idle.ceiling) {
    m['catalog_cached_rps'] = Math.round(median(idle.cached));
    m['ceiling_rps'] = Math.round(median(idle.ceiling));
    m['catalog_fraction_of_ceiling'] = ratio(m['catalog_cached_rps'], m['ceiling_rps']);
  }
  if (idle?.floor) {
    m['floor_catalog_p50_ms'] = idle.floor.p50;
    m['floor_catalog_p99_ms'] = idle.floor.p99;
    // The largest level-1/level-2 ratio this generator could show here: level 1's p99 over the
    // floor's (a level 2 answering as fast as the bare route).
    m['l1_catalog_p99_loaded_vs_floor'] = ratio(m['l1_catalog_p99_ms_loaded'], idle.floor.p99);
  }
  const orders = runs.l2_loaded?.orders;
  if (orders) {
    m['orders_per_s'] = orders.okPerS;
    m['orders_p99_ms'] = orders.p99;
    m['orders_sold_out'] = orders.soldOut;
    m['orders_errors'] = orders.errors;
  }
  m['oversold_units'] = (m['l1_oversold_units'] ?? 0) + (m['l2_oversold_units'] ?? 0);
  const lag = runs.l2_loaded?.sale.lag;
  if (lag) {
    m['projection_lag_p50_ms'] = lag.p50;
    m['projection_lag_p99_ms'] = lag.p99;
    m['projection_lag_max_ms'] = lag.max;
    m['projection_lag_samples'] = lag.count;
    m['projection_lag_errors'] = lag.errors;
  }
  return m;
}

/** Figures where a round's failure must show, whatever the other rounds: summed, not medians. */
const SUMMED = /(_errors(_idle|_loaded)?|oversold_units|_mismatch_units)$/;
/** The ratios the issue's targets name, per stream (recomputed from the medians). */
const RATIOS: [string, string, string][] = ['read', 'catalog', 'product', 'search'].flatMap(
  (stream): [string, string, string][] => [
    [`l1_vs_l2_${stream}_p99_loaded`, `l1_${stream}_p99_ms_loaded`, `l2_${stream}_p99_ms_loaded`],
    [`l2_${stream}_p99_loaded_vs_idle`, `l2_${stream}_p99_ms_loaded`, `l2_${stream}_p99_ms_idle`],
  ],
);

/**
 * One round's figures as they are; several rounds' as the median of each figure over the rounds
 * (errors, oversold and mismatched units summed), the target ratios as the ratio of the medians,
 * with each round's ratio beside them (`<ratio>_r1`, …) and their median (`<ratio>_median`).
 */
function mediansOf(perRound: readonly Metrics[]): Metrics {
  if (perRound.length === 1) return perRound[0]!;
  const m: Metrics = { rounds: perRound.length };
  const keys = new Set(perRound.flatMap((x) => Object.keys(x)));
  for (const key of keys) {
    const values = perRound.map((x) => x[key]).filter((v): v is number => v !== undefined);
    if (SUMMED.test(key)) m[key] = values.reduce((a, b) => a + b, 0);
    else {
      const finite = values.filter(Number.isFinite);
      m[key] = finite.length > 0 ? Math.round(median(finite) * 1000) / 1000 : Number.NaN;
    }
  }
  for (const [name, over, under] of RATIOS) {
    m[name] = ratio(m[over], m[under]);
    perRound.forEach((x, i) => {
      m[`${name}_r${i + 1}`] = x[name] ?? Number.NaN;
    });
    m[`${name}_median`] =
      Math.round(median(perRound.map((x) => x[name] ?? Number.NaN)) * 1000) / 1000;
  }
  if (m['catalog_cached_rps'] !== undefined)
    m['catalog_fraction_of_ceiling'] = ratio(m['catalog_cached_rps'], m['ceiling_rps']);
  return m;
}

const LABELS: Record<RunName, [string, string]> = {
  l1_idle: ['level 1, no writes', '#f4a582'],
  l1_loaded: ['level 1, during the sale', '#ca0020'],
  l2_idle: ['level 2, no writes', '#92c5de'],
  l2_loaded: ['level 2, during the sale', '#0571b0'],
};

function writeChart(
  file: string,
  runs: Partial<Record<RunName, RunFigures>>,
  s: Settings,
  rate: Rate,
) {
  const series = (Object.keys(LABELS) as RunName[])
    .filter((k) => runs[k])
    .map((k) => ({
      label: LABELS[k][0],
      color: LABELS[k][1],
      curve: runs[k]!.sale.streams['reads']!.curve,
    }));
  const title = `Flash sale: read latency at ${rate.reads} reads/s (+ ${rate.writes.toFixed(0)} writes/s), ${s.products.toLocaleString('en-US')} products`;
  writeFileSync(file, latencyChart(title, series));
  console.log(`  → ${file}`);
}

function printRuns(runs: Partial<Record<RunName, RunFigures>>, round: string) {
  const rows: string[][] = [
    ['run', 'stream', 'ok/s', 'p50', 'p95', 'p99', 'max', 'errors', 'sold out'],
  ];
  for (const [name, run] of Object.entries(runs) as [RunName, RunFigures][]) {
    // The orders phase (autocannon) has no p95: '—'.
    const all: Record<string, OrdersSummary & { p95?: number }> = {
      ...run.sale.streams,
      ...(run.orders ? { 'orders (full speed)': run.orders } : {}),
      ...(run.sale.lag?.count ? { 'lag (write→visible)': run.sale.lag } : {}),
    };
    for (const [stream, x] of Object.entries(all)) {
      rows.push([
        name,
        stream,
        String(x.okPerS),
        `${x.p50}`,
        `${x.p95 ?? '—'}`,
        `${x.p99}`,
        `${x.max}`,
        String(x.errors),
        String(x.soldOut),
      ]);
      if (x.errorSamples.length && !stream.includes('.'))
        rows.push(['', `  e.g. ${x.errorSamples[0]!.slice(0, 100)}`]);
    }
  }
  const widths = rows[0]!.map((_, i) =>
    Math.max(...rows.filter((r) => r.length > 2).map((r) => (r[i] ?? '').length)),
  );
  console.log(`\nflash-sale runs${round} (latencies in ms, from the scheduled send time)`);
  for (const r of rows)
    console.log(
      r.length > 2
        ? `  ${r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`
        : `  ${r.join('')}`,
    );
}
