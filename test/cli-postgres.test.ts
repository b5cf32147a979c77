// The `tworooms` command on PostgreSQL, by configuration alone: migrate, status and serve.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  postgresReachable,
  type TestDatabase,
} from '../src/stores/postgres/test-db.js';

const run = promisify(execFile);
const TSX = join('node_modules', '.bin', 'tsx');
const CLI = join('src', 'cli', 'main.ts');
const reachable = await postgresReachable();

describe.skipIf(!reachable)('tworooms on PostgreSQL', () => {
  let write: TestDatabase;
  let read: TestDatabase;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    [write, read] = await Promise.all([
      createTestDatabase('tworooms_cli_write'),
      createTestDatabase('tworooms_cli_read'),
    ]);
    dir = mkdtempSync(join(tmpdir(), 'tworooms-cli-pg-'));
    env = {
      ...process.env,
      TWOROOMS_WRITE_DB: write.url,
      TWOROOMS_READ_DB: read.url,
      TWOROOMS_DATA_DIR: dir,
      TWOROOMS_ADMIN_TOKEN: 'cli-test-admin',
      PORT: '0',
    };
  });
  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGKILL');
      await new Promise((r) => server?.once('exit', r));
    }
    await Promise.all([write?.drop(), read?.drop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrate creates both schemas; status reads head and checkpoints', async () => {
    // (Migrating twice, and several processes at once, is test/main-stores.test.ts.)
    const migrated = await run(TSX, [CLI, 'migrate'], { env });
    expect(migrated.stdout).toMatch(/^migrated: postgres:\/\/.* and postgres:\/\//);
    const { stdout } = await run(TSX, [CLI, 'status'], { env });
    expect(stdout).toContain('event log head: 0');
    expect(stdout).toMatch(/catalog\s+\d+\s+0\s+0\s+not started/);
  }, 60_000);

  it('serve --demo answers on PostgreSQL, and status then shows the projections caught up', async () => {
    server = spawn(TSX, [CLI, 'serve', '--demo'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 50_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = output.match(/listening on (http:\/\/[^\s]+)/);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      server?.stdout?.on('data', onData);
      server?.stderr?.on('data', onData);
      server?.once('exit', (code) => reject(new Error(`serve exited ${code}:\n${output}`)));
    });
    const catalog = await fetch(`${url}/api/catalog`);
    expect(catalog.status).toBe(200);
    const page = (await catalog.json()) as { total: number };
    expect(page.total).toBeGreaterThan(0);
    const search = (await (await fetch(`${url}/api/search?q=a`)).json()) as { total: number };
    expect(search.total).toBeGreaterThan(0);

    const exited = new Promise((r) => server?.once('exit', r));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);

    const { stdout } = await run(TSX, [CLI, 'status'], { env });
    const head = Number(stdout.match(/event log head: (\d+)/)?.[1]);
    expect(head).toBeGreaterThan(0);
    expect(stdout).toMatch(/catalog\s+\d+\s+\d+\s+0\s+caught up/);
  }, 90_000);

  it('refuses a mixed configuration with a one-line message, exit code 2', async () => {
    const mixed = { ...env, TWOROOMS_READ_DB: join(dir, 'read.db') };
    const failure = await run(TSX, [CLI, 'status'], { env: mixed }).catch((e) => e);
    expect(failure.code).toBe(2);
    expect(failure.stderr.trim()).toMatch(/^tworooms: TWOROOMS_WRITE_DB and TWOROOMS_READ_DB/);
    expect(failure.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);
});
