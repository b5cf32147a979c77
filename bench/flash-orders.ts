// The flash sale's order phase on its own (issue #7's "≥ 2,000 orders/s, zero oversell, lag
// p99 ≤ 50 ms"): one seeded store; each round starts the level-2 shop as a separate server
// process on a fresh copy, restocks the hot products, then 32 closed loops place orders while
// price changes at a fixed rate time the projection lag. Deployments (--variants) alternate
// round by round, so they share the machine's state; the figures are medians over the rounds.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runLoad, type Summary } from './flash/loadgen.js';
import { type OrdersSummary, placeOrders } from './flash/orders-load.js';
import { caughtUp, prepareSale, setStock } from './flash/setup.js';
import { openStack, type StackName } from './flash/stacks.js';
import { orderRequests, writeRequests } from './flash/traffic.js';
import { type BenchOptions, type Metrics, median } from './lib.js';
import { startServer } from './server.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** How the shop is deployed for a round: the server's environment on top of level 2's. */
export const DEPLOYMENTS: Record<string, Record<string, string>> = {
  // Everything on the API process's event loop (the projector too).
  'in-process': { TWOROOMS_WRITE_THREAD: 'off', TWOROOMS_PROJECT_THREAD: 'off' },
  // Commands (statements, group commit and fsync) on the writer thread, the projector on the loop.
  'write-thread': { TWOROOMS_WRITE_THREAD: 'on', TWOROOMS_PROJECT_THREAD: 'off' },
  // Commands on the writer thread, projections on the projector thread (serve's default).
  'project-thread': { TWOROOMS_WRITE_THREAD: 'on', TWOROOMS_PROJECT_THREAD: 'on' },
  // The same with live batches at most every 10 ms (TWOROOMS_PROJECT_COALESCE_MS=10).
  'coalesce-10': { TWOROOMS_PROJECT_COALESCE_MS: '10' },
  // As `serve` deploys by default (on the production stack, where the thread settings do not
  // apply, the one variant that means anything).
  default: {},
};

// BENCH_BASE_CLI=<another build's dist/cli/main.js> adds the variant `base`: that build, as it
// deploys by default (before/after a change, side by side, round by round).
const baseCli = process.env['BENCH_BASE_CLI'];
if (baseCli) DEPLOYMENTS['base'] = {};

const FLAGS = [
  'quick',
  'no-peer',
  'products',
  'rounds',
  'seconds',
  'variants',
  'read-threads',
  'stack',
];

function value(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
  return v;
}

function whole(args: readonly string[], name: string, fallback: number, min: number): number {
  const v = value(args, name);
  if (v === undefined) return fallback;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}`);
  return n;
}

export function ordersSettings(o: BenchOptions) {
  const unknown = o.args.filter((a) => a.startsWith('--') && !FLAGS.includes(a.slice(2)));
  if (unknown.length > 0)
    throw new Error(`unknown option ${unknown.join(', ')} (known: --${FLAGS.join(', --')})`);
  const q = o.quick;
  const stack = value(o.args, 'stack') ?? 'embedded';
  if (stack !== 'embedded' && stack !== 'production')
    throw new Error(`--stack must be embedded or production (got ${stack})`);
  const sqliteVariants = Object.keys(DEPLOYMENTS).filter((v) => v !== 'default');
  const variants = (
    value(o.args, 'variants') ?? (stack === 'production' ? 'default' : sqliteVariants.join(','))
  )
    .split(',')
    .filter(Boolean);
  const missing = variants.filter((v) => !DEPLOYMENTS[v]);
  if (missing.length > 0)
    throw new Error(
      `unknown variant ${missing.join(', ')} (known: ${Object.keys(DEPLOYMENTS).join(', ')})`,
    );
  return {
    stack: stack as StackName,
    products: whole(o.args, 'products', q ? 2_000 : 100_000, 100),
    rounds: whole(o.args, 'rounds', q ? 1 : 3, 1),
    seconds: whole(o.args, 'seconds', q ? 1 : 10, 1),
    readThreads: whole(o.args, 'read-threads', 2, 0),
    variants,
    hot: q ? 20 : 100,
    customers: q ? 20 : 500,
    /** Units per warehouse of each hot product before each round (as the flash sale's step 6). */
    units: 100_000,
    concurrency: 32,
    /** Price changes per second whose visibility in the read model is timed. */
    probeRate: 10,
  };
}

const started = performance.now();
const log = (message: string) =>
  console.log(`bench +${((performance.now() - started) / 1000).toFixed(1)} s: ${message}`);

interface Round {
  orders: OrdersSummary;
  lag: Summary;
  oversold: number;
  mismatched: number;
}

export async function flashOrdersBench(options: BenchOptions): Promise<Metrics> {
  const s = ordersSettings(options);
  if (!existsSync(cli)) throw new Error('dist/ is missing: run `npm run build` first');
  const stack = openStack(s.stack);
  const adminToken = randomBytes(18).toString('base64url');
  const withToken = (env: Record<string, string>) => ({ ...env, TWOROOMS_ADMIN_TOKEN: adminToken });
  const rounds: Record<string, Round[]> = Object.fromEntries(s.variants.map((v) => [v, []]));
  try {
    await stack.prepare();
    log(`seeding ${s.products.toLocaleString('en-US')} products (${s.stack} stack)…`);
    execFileSync(process.execPath, [cli, 'seed', '--products', String(s.products)], {
      env: { ...process.env, ...withToken(stack.baseEnv) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const setup = await startServer(withToken(stack.baseEnv));
    const catalog = await prepareSale(setup.url, adminToken, { ...s, hotUnits: 1_000 }).finally(
      () => setup.stop(),
    );
    const orders = orderRequests(catalog, 200_000);
    const probes = writeRequests(catalog, 4_000).filter((r) => r.kind === 'price');
    for (let round = 1; round <= s.rounds; round++) {
      for (const variant of s.variants) {
        const copy = await stack.copy(`${variant}-${round}`);
        try {
          const server = await startServer(
            withToken({
              ...copy.env,
              TWOROOMS_READS: 'read-model',
              TWOROOMS_READ_THREADS: String(s.readThreads),
              ...DEPLOYMENTS[variant],
            }),
            ['serve'],
            variant === 'base' ? baseCli : undefined,
          );
          let result: Omit<Round, 'oversold' | 'mismatched'>;
          try {
            await caughtUp(server.url, adminToken);
            await setStock(server.url, adminToken, catalog.hot, s.units);
            await caughtUp(server.url, adminToken);
            log(`round ${round}, ${variant}: ${s.concurrency} loops placing orders…`);
            const [closed, open] = await Promise.all([
              placeOrders(server.url, orders.slice((round - 1) * 20_000), {
                connections: s.concurrency,
                seconds: s.seconds,
              }),
              runLoad({
                mode: 'open',
                url: server.url,
                durationMs: s.seconds * 1000,
                streams: [{ name: 'prices', ratePerS: s.probeRate, requests: probes }],
                probeLag: true,
                connections: 4,
                timeoutMs: 10_000,
              }),
            ]);
            result = { orders: closed, lag: open.lag! };
          } finally {
            await server.stop();
          }
          const audit = await stack.audit(copy.env);
          const r: Round = {
            ...result,
            oversold: audit.oversoldUnits,
            mismatched: audit.mismatchedUnits + audit.negativeRows,
          };
          rounds[variant]!.push(r);
          log(
            `  ${r.orders.okPerS} orders/s (p50 ${r.orders.p50} ms, p99 ${r.orders.p99} ms, ${r.orders.errors} errors), ` +
              `lag p99 ${r.lag.p99} ms (${r.lag.count} probes, ${r.lag.errors} errors), oversold ${r.oversold}, mismatched ${r.mismatched}`,
          );
        } finally {
          await copy.drop();
        }
      }
    }
  } finally {
    await stack.cleanup();
  }
  const m: Metrics = { products: s.products, rounds: s.rounds, seconds: s.seconds };
  for (const [variant, list] of Object.entries(rounds)) {
    const k = variant.replace(/\W/g, '_');
    const med = (f: (r: Round) => number) => median(list.map(f));
    m[`${k}_orders_per_s`] = med((r) => r.orders.okPerS);
    m[`${k}_orders_p50_ms`] = med((r) => r.orders.p50);
    m[`${k}_orders_p99_ms`] = med((r) => r.orders.p99);
    m[`${k}_orders_errors`] = list.reduce((n, r) => n + r.orders.errors + r.orders.soldOut, 0);
    m[`${k}_lag_p50_ms`] = med((r) => r.lag.p50);
    m[`${k}_lag_p99_ms`] = med((r) => r.lag.p99);
    m[`${k}_lag_errors`] = list.reduce((n, r) => n + r.lag.errors, 0);
    m[`${k}_oversold_units`] = list.reduce((n, r) => n + r.oversold, 0);
    m[`${k}_stock_mismatch_units`] = list.reduce((n, r) => n + r.mismatched, 0);
    console.log(
      `${variant}: orders/s per round ${list.map((r) => r.orders.okPerS).join(', ')}; lag p99 ${list.map((r) => r.lag.p99).join(', ')} ms`,
    );
  }
  return m;
}
