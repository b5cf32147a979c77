import { existsSync } from 'node:fs';
import { type Config, isPostgresUrl } from '../config.js';
import { shopProjections } from '../shop/query-handlers.js';
import { PostgresEventStore, PostgresReadStore } from '../stores/postgres/index.js';
import { openSqlite } from '../stores/sqlite/index.js';

interface CheckpointRow {
  version: number;
  position: number | bigint;
  status: string;
  failure: string | null;
}

/** The log head and the checkpoints, from PostgreSQL (the stores' own reads; `serve` may run). */
async function postgresPositions(
  config: Config,
): Promise<{ head: bigint; rows: Map<string, CheckpointRow> }> {
  const write = await PostgresEventStore.open({ connectionString: config.writeDb, poolSize: 1 });
  try {
    const head = await write.headPosition();
    const read = await PostgresReadStore.open({ connectionString: config.readDb, poolSize: 1 });
    try {
      const rows = new Map<string, CheckpointRow>();
      for (const [name, c] of await read.loadCheckpoints()) {
        rows.set(name, {
          version: c.version,
          position: c.position,
          status: c.status,
          failure: c.failure ? JSON.stringify({ error: c.failure.error }) : null,
        });
      }
      return { head, rows };
    } finally {
      await read.close();
    }
  } finally {
    await write.close();
  }
}

/** Each projection's version, position, lag and state against the log head. */
export async function statusCommand(config: Config): Promise<void> {
  if (isPostgresUrl(config.writeDb)) {
    const { head, rows } = await postgresPositions(config);
    printStatus(head, rows);
    return;
  }
  await sqliteStatus(config);
}

/** Reads positions straight from the files (read-only), so it works while `serve` runs. */
async function sqliteStatus(config: Config): Promise<void> {
  if (!existsSync(config.writeDb)) {
    console.log(
      `no store at ${config.writeDb} yet: run \`tworooms serve\` or \`tworooms migrate\` first`,
    );
    return;
  }
  const write = openSqlite(config.writeDb, { readonly: true });
  const head = BigInt(
    (write.prepare('SELECT max(position) FROM events').pluck().get() as number | null) ?? 0,
  );
  write.close();
  const rows = new Map<string, CheckpointRow>();
  if (existsSync(config.readDb)) {
    const read = openSqlite(config.readDb, { readonly: true });
    const exists = read
      .prepare("SELECT 1 FROM sqlite_master WHERE name = 'tworooms_checkpoints'")
      .get();
    if (exists) {
      for (const r of read
        .prepare('SELECT name, version, position, status, failure FROM tworooms_checkpoints')
        .all() as {
        name: string;
        version: number;
        position: number;
        status: string;
        failure: string | null;
      }[]) {
        rows.set(r.name, r);
      }
    }
    read.close();
  }
  printStatus(head, rows);
}

function printStatus(head: bigint, rows: ReadonlyMap<string, CheckpointRow>): void {
  console.log(`event log head: ${head}`);
  console.log(
    `${'projection'.padEnd(12)} ${'version'.padStart(7)} ${'position'.padStart(12)} ${'lag'.padStart(10)}  state`,
  );
  for (const p of shopProjections()) {
    const r = rows.get(p.name);
    const position = BigInt(r?.position ?? 0);
    const lag = head > position ? head - position : 0n;
    const state = !r
      ? 'not started'
      : r.status === 'failed'
        ? `failed: ${JSON.parse(r.failure ?? '{}').error ?? ''}`
        : lag === 0n
          ? 'caught up'
          : 'behind';
    console.log(
      `${p.name.padEnd(12)} ${String(r?.version ?? p.version).padStart(7)} ${String(position).padStart(12)} ${String(lag).padStart(10)}  ${state}`,
    );
  }
}
