// `tworooms project` on the embedded store: beside `serve --no-projector` it keeps the read
// models (the API answers a change with its token), a second worker is refused with one line,
// and SIGTERM stops it cleanly. (PostgreSQL failover: test/multi-process.test.ts.)
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CLI = join('dist', 'cli', 'main.js');
const ADMIN = 'cli-project-admin';

describe('tworooms project (SQLite)', () => {
  const children: ChildProcess[] = [];
  let dir: string;
  let env: NodeJS.ProcessEnv;

  function start(args: string[]): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(process.execPath, [CLI, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    return new Promise((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = output.match(/listening on (http:\/\/\S+)/);
        if (m?.[1]) resolve({ child, url: m[1] });
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`${args[0]} exited ${code}:\n${output}`)));
    });
  }

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    dir = mkdtempSync(join(tmpdir(), 'tworooms-cli-project-'));
    env = { ...process.env, TWOROOMS_DATA_DIR: dir, TWOROOMS_ADMIN_TOKEN: ADMIN, PORT: '0' };
  });
  afterAll(async () => {
    for (const c of children)
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await exited;
      }
    rmSync(dir, { recursive: true, force: true });
  });

  it('projects for an API-only serve, refuses a second worker, stops on SIGTERM', async () => {
    const worker = await start(['project', '--port', '0']);
    const api = await start(['serve', '--no-projector']);
    const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const created = await fetch(`${api.url}/api/categories`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'Tea' }),
    });
    expect(created.status).toBe(201);
    const { position } = (await created.json()) as { position: string };
    const categories = await fetch(`${api.url}/api/categories?after=${position}`);
    expect(categories.headers.get('x-read-model-stale')).toBeNull();
    expect(((await categories.json()) as { items: { name: string }[] }).items).toEqual([
      expect.objectContaining({ name: 'Tea' }),
    ]);
    const status = await fetch(`${worker.url}/api/admin/projections`, { headers: auth });
    expect(((await status.json()) as { name: string }[]).map((s) => s.name).sort()).toEqual([
      'carts',
      'catalog',
      'orders',
      'search',
    ]);

    const second = await run(process.execPath, [CLI, 'project', '--port', '0'], { env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(second).toMatchObject({ code: 1 });
    expect((second as { stderr: string }).stderr.trim()).toMatch(
      /^tworooms: another process already runs the projector on this SQLite read DB/,
    );
    const projecting = await run(process.execPath, [CLI, 'serve'], { env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((projecting as { stderr: string }).stderr).toMatch(/already runs the projector/);

    // Without a server that answers, retry would change the checkpoint on the files: not under
    // a running worker. With the worker's --url, it goes to the worker.
    const onFiles = await run(process.execPath, [CLI, 'retry', 'catalog'], { env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(onFiles).toMatchObject({ code: 1 });
    expect((onFiles as { stderr: string }).stderr.trim()).toMatch(
      /^tworooms: the projector runs in another process .* pass that process's --url$/,
    );
    const viaWorker = await run(process.execPath, [CLI, 'retry', 'catalog', '--url', worker.url], {
      env,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((viaWorker as { stderr: string }).stderr).toMatch(/has not failed: nothing to retry/);

    const exited = new Promise((r) => worker.child.once('exit', r));
    worker.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
