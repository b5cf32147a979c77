// The reference ceiling: a bare Fastify route answering a catalog page's bytes from memory, run
// as its own process (env PORT, CEILING_BODY = the file holding the bytes).
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const body = readFileSync(process.env['CEILING_BODY'] ?? '');
const app = Fastify({ logger: false });
app.get('/health', async () => ({ status: 'ok' }));
app.get('/api/catalog', (_request, reply) => {
  void reply.header('content-type', 'application/json; charset=utf-8').send(body);
});
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
await app.listen({ port: Number(process.env['PORT']), host: '127.0.0.1' });
