#!/usr/bin/env node
// The `tworooms` command line. Errors end with a one-line message and a non-zero exit code,
// never a stack trace.
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig } from '../config.js';
import { isTworoomsError } from '../core/errors.js';
import { benchCommand } from './bench.js';
import { migrateCommand } from './migrate.js';
import { projectCommand } from './project.js';
import { projectionsCommand, retryCommand, skipCommand } from './projections.js';
import { rebuildCommand } from './rebuild.js';
import { relayCommand } from './relay.js';
import { labelFlag, positionFlag, replayCommand, typesFlag } from './replay.js';
import { seedCommand } from './seed.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';
import { verifyCommand } from './verify.js';

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 10_000_000)
    throw new InvalidArgumentError('a whole number from 0 to 10,000,000');
  return n;
};

const positiveIntPort = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('a port number from 0 to 65535');
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
  .command('project')
  .description(
    'run a projector worker: the read models, their cache invalidation and background jobs (several on PostgreSQL: one owner per projection, standbys take over)',
  )
  .option(
    '--port <port>',
    'port of its /health, /metrics and admin projection routes (0: any free port)',
    positiveIntPort,
    3001,
  )
  .option('--host <host>', 'address to listen on (default HOST or 127.0.0.1)')
  .addHelpText(
    'after',
    `
Runs the shop's projections with the stores of TWOROOMS_WRITE_DB / TWOROOMS_READ_DB, invalidates
the Redis cache (TWOROOMS_CACHE) after each batch and queues and runs the background jobs
(BullMQ on that Redis; in-process without it). Pair it with \`tworooms serve --no-projector\`.

PostgreSQL: run two or more. Each projection is owned by one worker at a time (an advisory lock
on the read DB); when the owner dies another takes over within about a second.
SQLite: one projector per read DB; a second \`project\` (or a \`serve\` with its projector) is
refused with an error.

Drive it with \`tworooms rebuild|retry|skip <projection> --url http://127.0.0.1:3001\` (the worker
owning the projection). SIGTERM/SIGINT stop it after the current batches and release its leases.`,
  )
  .action((opts: { port: number; host?: string }) => projectCommand(loadConfig(), opts));

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

const urlHelp =
  'the running server (default http://127.0.0.1:$PORT); none there: done in this process';

program
  .command('rebuild')
  .description('rebuild a projection blue/green while the shop serves, with a progress bar')
  .argument('<projection>', 'catalog, search, orders or carts')
  .option('--url <url>', urlHelp)
  .action((name: string, opts: { url?: string }) => rebuildCommand(loadConfig(), name, opts));

program
  .command('verify')
  .description('compare a projection with a fresh rebuild row by row (exit 1 when rows differ)')
  .argument('<projection>', 'catalog, search, orders or carts')
  .action((name: string) => verifyCommand(loadConfig(), name));

program
  .command('projections')
  .description('each projection: state, position, lag, failure, skipped events, rebuild')
  .action(() => projectionsCommand(loadConfig()));

program
  .command('retry')
  .description('resume a failed projection: its failing event gets fresh attempts')
  .argument('<projection>')
  .option('--url <url>', urlHelp)
  .action((name: string, opts: { url?: string }) => retryCommand(loadConfig(), name, opts));

program
  .command('skip')
  .description('resume a failed projection past its failing event (recorded, never silent)')
  .argument('<projection>')
  .argument('<position>', "the failing event's position (see `tworooms projections`)")
  .option('--url <url>', urlHelp)
  .action((name: string, position: string, opts: { url?: string }) =>
    skipCommand(loadConfig(), name, position, opts),
  );

program
  .command('relay')
  .description(
    'publish every event of the log, in order, to NATS JetStream (TWOROOMS_BUS, TWOROOMS_BUS_STREAM, TWOROOMS_BUS_PREFIX)',
  )
  .option('--stream <name>', 'JetStream stream (default TWOROOMS_BUS_STREAM or TWOROOMS_EVENTS)')
  .option('--prefix <prefix>', 'subject prefix (default TWOROOMS_BUS_PREFIX or tworooms)')
  .option(
    '--poll-ms <ms>',
    'look for events appended by other processes this often',
    positiveInt,
    100,
  )
  .action((opts: { stream?: string; prefix?: string; pollMs: number }) =>
    relayCommand(loadConfig(), opts),
  );

program
  .command('replay')
  .description(
    'republish a range of the archive to NATS JetStream for consumers that need to catch up',
  )
  .requiredOption('--from <position>', 'first position (inclusive)', positionFlag)
  .option('--to <position>', 'last position (inclusive; default: the log head)', positionFlag)
  .option('--types <types>', 'only these event types, comma-separated', typesFlag)
  .option(
    '--label <label>',
    'part of each message id: repeating a replay with the same label within the duplicate window publishes nothing twice',
    labelFlag,
    'replay',
  )
  .option('--stream <name>', 'JetStream stream (default TWOROOMS_BUS_STREAM or TWOROOMS_EVENTS)')
  .option('--prefix <prefix>', 'subject prefix (default TWOROOMS_BUS_PREFIX or tworooms)')
  .action((opts: Parameters<typeof replayCommand>[1]) => replayCommand(loadConfig(), opts));

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
