import { existsSync } from 'node:fs';
import { type Config, isPostgresUrl } from '../config.js';
import {
  type Checkpoint,
  coreError,
  rebuildCheckpointName,
  retriedCheckpoint,
  skippedCheckpoint,
} from '../core/index.js';
import { shopProjections } from '../shop/query-handlers.js';
import { PostgresEventStore, PostgresReadStore } from '../stores/postgres/index.js';
import { SqliteReadStore } from '../stores/sqlite/index.js';
import { openSqlite } from '../stores/sqlite/open.js';
import { holdProjections } from './projection-lock.js';
import { apiError, openShopStores, projectionNamed, serverAt } from './shop-files.js';

/** The log head and the checkpoints, read without disturbing a running projector. */
async function positions(
  config: Config,
): Promise<{ head: bigint; checkpoints: ReadonlyMap<string, Checkpoint> } | undefined> {
  if (isPostgresUrl(config.writeDb)) {
    const write = await PostgresEventStore.open({ connectionString: config.writeDb, poolSize: 1 });
    try {
      const read = await PostgresReadStore.open({ connectionString: config.readDb, poolSize: 1 });
      try {
        return { head: await write.headPosition(), checkpoints: await read.loadCheckpoints() };
      } finally {
        await read.close();
      }
    } finally {
      await write.close();
    }
  }
  if (!existsSync(config.writeDb) || !existsSync(config.readDb)) return undefined;
  const write = openSqlite(config.writeDb, { readonly: true });
  const head = BigInt(
    (write.prepare('SELECT max(position) FROM events').pluck().get() as number | null) ?? 0,
  );
  write.close();
  const read = new SqliteReadStore({ path: config.readDb });
  const checkpoints = await read.loadCheckpoints();
  await read.close();
  return { head, checkpoints };
}

/** `tworooms projections`: each projection's state, position, lag, failure, skips, rebuild. */
export async function projectionsCommand(config: Config): Promise<void> {
  const found = await positions(config);
  if (!found) {
    console.log(`no store at ${config.dataDir} yet: run \`tworooms serve\` first`);
    return;
  }
  const { head, checkpoints } = found;
  console.log(`event log head: ${head}`);
  for (const p of shopProjections()) {
    const c = checkpoints.get(p.name);
    const position = c?.position ?? 0n;
    const lag = head > position ? head - position : 0n;
    const state = !c
      ? 'not started'
      : c.status === 'failed'
        ? 'failed'
        : c.version !== p.version
          ? `rebuilding (version ${c.version} serves, ${p.version} is deployed)`
          : lag === 0n
            ? 'live'
            : 'catching up';
    console.log(
      `${p.name}: ${state} · version ${c?.version ?? p.version} · generation ${c?.generation ?? 0} · position ${position} · lag ${lag}`,
    );
    if (c?.failure) {
      const f = c.failure;
      console.log(
        `  failed at position ${f.position} (${f.eventType} ${f.eventId}) after ${f.attempts} attempts: ${f.error}`,
      );
      console.log(
        `  resume: tworooms retry ${p.name}   or   tworooms skip ${p.name} ${f.position}`,
      );
    }
    for (const k of c?.skipped ?? [])
      console.log(
        `  skipped position ${k.position} (${k.eventType} ${k.eventId}) at ${k.at.toISOString()}: ${k.error}`,
      );
    const copy = checkpoints.get(rebuildCheckpointName(p.name));
    if (copy)
      console.log(
        `  rebuilding: generation ${copy.generation ?? '?'} at position ${copy.position} of ${head}`,
      );
  }
}

/**
 * Changes a failed projection's checkpoint: through the server that runs it when one answers
 * (its projector holds the projection), else directly in the read DB.
 */
async function resume(
  config: Config,
  name: string,
  url: string | undefined,
  action: 'retry' | 'skip',
  position?: bigint,
): Promise<void> {
  projectionNamed(name);
  const api = await serverAt(config, url);
  if (api) {
    const reply = await api.call(
      'POST',
      `/api/admin/projections/${encodeURIComponent(name)}/${action}`,
      action === 'skip' ? { position: String(position) } : undefined,
    );
    if (reply.status !== 200) throw apiError(api, reply);
  } else {
    const release = await holdProjections(config, [name], url ?? `port ${config.port}`);
    const stores = await openShopStores(config).catch(async (error) => {
      await release();
      throw error;
    });
    try {
      await stores.store.transact(async (tx) => {
        const current: Checkpoint | undefined = await tx.tables?.checkpoint(name);
        const next =
          action === 'retry'
            ? retriedCheckpoint(current, name)
            : skippedCheckpoint(current, name, position ?? 0n, new Date()).checkpoint;
        await tx.saveCheckpoint(next);
      });
    } finally {
      await stores.close();
      await release();
    }
  }
  console.log(
    action === 'retry'
      ? `${name}: retrying its failing event`
      : `${name}: skipped position ${position} (recorded; see \`tworooms projections\`)`,
  );
}

export const retryCommand = (config: Config, name: string, opts: { url?: string }) =>
  resume(config, name, opts.url, 'retry');

export const skipCommand = (
  config: Config,
  name: string,
  position: string,
  opts: { url?: string },
) => {
  if (!/^\d{1,19}$/.test(position))
    throw coreError(
      'VALIDATION_FAILED',
      `position must be a whole number (the failing event's), got "${position}"`,
    );
  return resume(config, name, opts.url, 'skip', BigInt(position));
};
