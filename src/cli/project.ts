import { type Config, isPostgresUrl } from '../config.js';
import { createProjectorWorker } from '../main.js';
import { redact } from './migrate.js';

/**
 * `tworooms project`: a projector worker until SIGINT/SIGTERM. On PostgreSQL, run two or more:
 * each projection has one owner among them (an advisory lock on the read DB) and a standby takes
 * over within about a second when the owner dies. On SQLite, one projector runs per read DB: a
 * second one (or a `serve` with its projector) is refused with a clear error.
 */
export async function projectCommand(
  config: Config,
  opts: { port: number; host?: string },
): Promise<void> {
  const pid = process.pid;
  const worker = await createProjectorWorker(config, {
    logger: { level: process.env['LOG_LEVEL'] ?? 'warn' },
    onOwnership: (name, owned) =>
      console.log(`worker ${pid}: ${owned ? 'owns' : 'no longer owns'} projection ${name}`),
  });
  let shuttingDown = false;
  const stopped = new Promise<string>((resolve) => {
    const stop = (signal: string) => {
      if (shuttingDown) return;
      shuttingDown = true;
      resolve(signal);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  const host = opts.host ?? config.host;
  try {
    await worker.app.listen({ port: opts.port, host });
  } catch (error) {
    await worker.close();
    if ((error as { code?: string }).code === 'EADDRINUSE')
      throw new Error(`port ${opts.port} is in use: pass --port <another one> (0: any free port)`);
    throw error;
  }
  const address = worker.app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  console.log(`tworooms projector worker ${pid} listening on ${url}`);
  console.log(
    isPostgresUrl(config.readDb)
      ? `  read DB: ${redact(config.readDb)} (one owner per projection among the workers; standbys take over)`
      : `  read DB: ${config.readDb} (the only projector on these files)`,
  );
  console.log(
    `  cache: ${config.cache ? `Redis ${redact(config.cache.url)} prefix ${config.cache.prefix}` : 'none to invalidate here (in-process caches follow TWOROOMS_BUS)'}   jobs: ${config.cache ? `BullMQ prefix ${config.cache.jobsPrefix}` : 'in-process'}`,
  );
  console.log(`  owns: ${worker.projector.ownedNames().join(', ') || 'nothing yet (standing by)'}`);
  console.log(
    `  status: ${url}/health   metrics: ${url}/metrics   admin: ${url}/api/admin/projections`,
  );
  const signal = await stopped;
  console.log(`\n${signal}: stopping after the current batches…`);
  await worker.close();
  console.log(`worker ${pid} stopped`);
  process.exit(0);
}
