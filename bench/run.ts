// npm run bench -- <name> [--quick] [--no-peer] (and a benchmark's own options, e.g. rebuild's
// --stack sqlite|pg and --events N)
// Prints a table and writes bench/results/<name>.json: { name, machine, command, metrics }.
import { appendBench } from './append.js';
import { appendPgBench } from './append-pg.js';
import { catalogBench } from './catalog.js';
import { commandBench } from './command.js';
import { commandPgBench } from './command-pg.js';
import { flashOrdersBench } from './flash-orders.js';
import { flashSaleBench } from './flash-sale.js';
import { type BenchOptions, type Metrics, machine, printTable, writeResult } from './lib.js';
import { rebuildBench } from './rebuild.js';

const benches: Record<string, (o: BenchOptions) => Promise<Metrics>> = {
  append: appendBench,
  'append-pg': appendPgBench,
  catalog: catalogBench,
  command: commandBench,
  'command-pg': commandPgBench,
  'flash-orders': flashOrdersBench,
  'flash-sale': flashSaleBench,
  rebuild: rebuildBench,
};

const args = process.argv.slice(2);
// Options that take a value (flash-sale's): their values are not benchmark names.
const valued = new Set([
  '--products',
  '--reads',
  '--writes',
  '--seconds',
  '--rate',
  '--stack',
  '--read-threads',
  '--rounds',
  '--levels',
  '--projector-thread',
  '--events',
  '--variants',
  '--query-rate',
  '--pg-query-rate',
  '--pg-rounds',
]);
const names = args.filter((a, i) => !a.startsWith('--') && !valued.has(args[i - 1] ?? ''));
const flags = args.filter((a) => !names.includes(a));
const options: BenchOptions = {
  quick: args.includes('--quick'),
  peer: !args.includes('--no-peer'),
  args,
};
const selected = names.length === 1 && names[0] === 'all' ? Object.keys(benches) : names;
const unknown = selected.filter((n) => !benches[n]);
if (selected.length === 0 || unknown.length > 0) {
  console.error(
    `usage: npm run bench -- <${Object.keys(benches).join('|')}|all> [--quick] [--no-peer]` +
      (unknown.length ? `\nunknown benchmark: ${unknown.join(', ')}` : ''),
  );
  process.exit(2);
}
for (const name of selected) {
  let metrics: Metrics;
  try {
    metrics = await benches[name]!(options);
  } catch (error) {
    console.error(`bench ${name}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  const result = {
    name,
    machine: machine(),
    command: `npm run bench -- ${[name, ...flags].join(' ')}`,
    metrics,
  };
  printTable(result);
  console.log(
    `  → ${writeResult(result, options.quick ? 'bench/results/quick' : 'bench/results')}`,
  );
}
