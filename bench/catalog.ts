// Catalog page latency and throughput over HTTP, level 1 (write-db) vs level 2 (read-model +
// cache), on the same seeded store, measured in one run. The flash-sale benchmark builds on it.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { type BenchOptions, type Metrics, median, ratio, scratch } from './lib.js';
import { startServer } from './server.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Pages skewed as real traffic is: most reads hit the first pages of popular categories. */
function catalogPaths(categories: { id: string; productCount: number }[], count: number): string[] {
  const paths: string[] = [];
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let i = 0; i < count; i++) {
    const c = categories[Math.floor(random() ** 2 * categories.length)]!;
    const pages = Math.max(1, Math.ceil(c.productCount / 24));
    const page = 1 + Math.floor(random() ** 3 * Math.min(pages, 20));
    paths.push(`/api/catalog?category=${c.id}&page=${page}`);
  }
  return paths;
}

async function load(
  url: string,
  paths: string[],
  seconds: number,
  connections: number,
): Promise<Run> {
  let i = 0;
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [{ setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length]! }) }],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

export async function catalogBench(options: BenchOptions): Promise<Metrics> {
  const products = options.quick ? 20_000 : 100_000;
  const seconds = options.quick ? 4 : 10;
  const rounds = options.quick ? 1 : 3;
  const s = scratch('catalog');
  try {
    console.log(`bench: seeding ${products.toLocaleString('en-US')} products…`);
    execFileSync(process.execPath, [cli, 'seed', '--products', String(products)], {
      env: { ...process.env, TWOROOMS_DATA_DIR: s.dir },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const samples: Record<'l1' | 'l2', Run[]> = { l1: [], l2: [] };
    let paths: string[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['write-db', 'read-model'] as const) {
        const server = await startServer({ TWOROOMS_DATA_DIR: s.dir, TWOROOMS_READS: mode });
        try {
          if (paths.length === 0) {
            const categories = (await (await fetch(`${server.url}/api/categories`)).json()) as {
              items: { id: string; productCount: number }[];
            };
            paths = catalogPaths(categories.items, 5000);
          }
          await load(server.url, paths, 1, 8); // warm-up
          samples[mode === 'write-db' ? 'l1' : 'l2'].push(
            await load(server.url, paths, seconds, 32),
          );
        } finally {
          await server.stop();
        }
      }
    }
    const pick = (runs: Run[], k: keyof Run) =>
      Math.round(median(runs.map((r) => r[k])) * 100) / 100;
    const metrics: Metrics = {
      products,
      l1_catalog_rps: pick(samples.l1, 'rps'),
      l1_catalog_p50_ms: pick(samples.l1, 'p50'),
      l1_catalog_p99_ms: pick(samples.l1, 'p99'),
      l1_errors: pick(samples.l1, 'errors'),
      l2_catalog_rps: pick(samples.l2, 'rps'),
      l2_catalog_p50_ms: pick(samples.l2, 'p50'),
      l2_catalog_p99_ms: pick(samples.l2, 'p99'),
      l2_errors: pick(samples.l2, 'errors'),
    };
    metrics['l2_vs_l1_rps'] = ratio(metrics['l2_catalog_rps'], metrics['l1_catalog_rps']);
    metrics['l1_vs_l2_p99'] = ratio(metrics['l1_catalog_p99_ms'], metrics['l2_catalog_p99_ms']);
    return metrics;
  } finally {
    s.cleanup();
  }
}
