import { type Config, isPostgresUrl } from '../config.js';
import { Projector } from '../core/index.js';
import { createShop } from '../main.js';
import { redact } from './migrate.js';

export async function serveCommand(
  config: Config,
  opts: { demo?: boolean; projector: boolean },
): Promise<void> {
  const shop = await createShop(config, {
    projector: opts.projector,
    logger: { level: process.env['LOG_LEVEL'] ?? 'warn' },
  });
  if (opts.demo) {
    const added = await shop.seedDemo();
    if (added > 0) {
      await shop.projector?.catchUp(30_000);
      console.log(`demo catalog: ${added} products in 4 categories`);
    }
  }
  let shuttingDown = false;
  const stop = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log(`\n${signal}: closing…`);
    await shop.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  try {
    await shop.app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await shop.close();
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE')
      throw new Error(`port ${config.port} is in use: set PORT to another one`);
    throw error;
  }
  const address = shop.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  const token =
    shop.adminToken.source === 'env'
      ? '(from TWOROOMS_ADMIN_TOKEN)'
      : `${shop.adminToken.token}  (${shop.adminToken.source === 'new' ? 'new, ' : ''}kept in ${shop.adminToken.file})`;
  console.log(`tworooms shop listening on ${url}`);
  console.log(
    `  reads: ${config.readMode}   data: ${config.dataDir}${isPostgresUrl(config.writeDb) ? '' : `   commands: ${config.sqliteWriteThread ? 'writer thread' : 'event loop'}`}`,
  );
  if (isPostgresUrl(config.writeDb)) {
    console.log(`  write DB: ${redact(config.writeDb)}   read DB: ${redact(config.readDb)}`);
  }
  if (config.readMode === 'read-model') {
    console.log(
      `  cache: ${config.cache ? `Redis ${redact(config.cache.url)} prefix ${config.cache.prefix}` : 'in-process'}   projector: ${shop.projector ? (shop.projector instanceof Projector ? 'here (event loop)' : 'here (projector thread)') : 'elsewhere (tworooms project)'}${config.bus && !config.cache && !shop.projector ? `   invalidation: NATS ${config.bus.url} stream ${config.bus.stream}` : ''}`,
    );
  }
  console.log(`  API docs: ${url}/docs   OpenAPI: ${url}/openapi.json`);
  console.log(`  admin token: ${token}`);
  console.log(`  try: curl ${url}/api/catalog`);
}
