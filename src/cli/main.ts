#!/usr/bin/env node
// The `tworooms` command line. Errors end with a one-line message and a non-zero exit code,
// never a stack trace.
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig } from '../config.js';
import { isTworoomsError } from '../core/errors.js';
import { benchCommand } from './bench.js';
import { migrateCommand } from './migrate.js';
import { seedCommand } from './seed.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 10_000_000)
    throw new InvalidArgumentError('a whole number from 0 to 10,000,000');
  return n;
};

const program = new Command()
  .name('tworooms')
  .description(
    'The tworooms shop: CQRS + event sourcing on the embedded default (SQLite files under ./data)',
  )
  .showHelpAfterError();

program
  .command('serve')
  .description(
    'run the HTTP API and the projector (PORT, TWOROOMS_DATA_DIR, TWOROOMS_READS, TWOROOMS_ADMIN_TOKEN)',
  )
  .option('--demo', 'seed a small demo catalog into an empty store')
  .option('--no-projector', 'API only: do not run projections in this process')
  .action((opts: { demo?: boolean; projector: boolean }) => serveCommand(loadConfig(), opts));

program
  .command('migrate')
  .description('create or upgrade the write DB and read DB schemas')
  .action(() => migrateCommand(loadConfig()));

program
  .command('seed')
  .description('bulk-load a large catalog (products, stock, reviews) with a progress bar')
  .option('--products <n>', 'products to add', positiveInt, 100_000)
  .option('--reviews <n>', 'reviews to add (default: 10 per product)', positiveInt)
  .option('--categories <n>', 'categories', positiveInt, 50)
  .action((opts: { products: number; reviews?: number; categories: number }) =>
    seedCommand(loadConfig(), opts),
  );

program
  .command('status')
  .description("each projection's version, position, head, lag and state")
  .action(() => statusCommand(loadConfig()));

program
  .command('bench')
  .description(
    'run a benchmark from a source checkout, e.g. `bench flash-sale [--quick] [--products N] [--stack embedded|production]`',
  )
  .argument('<name>', 'flash-sale, catalog, append, command, rebuild or all')
  .allowUnknownOption()
  .allowExcessArguments()
  .helpOption(false)
  .action((_name: string, _opts: unknown, command: Command) => benchCommand(command.args));

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof ConfigError || isTworoomsError(error)) {
    console.error(`tworooms: ${error.message}`);
    process.exit(2);
  }
  const message = error instanceof Error ? error.message : String(error);
  console.error(`tworooms: ${message}`);
  process.exit(1);
}
