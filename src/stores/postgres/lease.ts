import pg from 'pg';
import { HeldLeases, type LeaseManager } from '../../core/lease.js';

export interface PostgresLeasesOptions {
  readonly connectionString: string;
  /** Checks the session is alive this often (default 1000 ms); a failed check loses every lease. */
  readonly heartbeatMs?: number;
  /** The session's `application_name` (default `tworooms-lease`), to find it in pg_stat_activity. */
  readonly applicationName?: string;
}

/** First key of every tworooms advisory lock ('tw'); the second is the hashed lease name. */
const NAMESPACE = 0x7477;

/**
 * Leases as PostgreSQL session advisory locks on one dedicated connection: the server releases
 * them the moment that connection ends — the process died (its socket closed) or the network
 * went — so another worker's next `tryAcquire` succeeds. A heartbeat notices a silent network
 * loss within `heartbeatMs` (plus the query timeout) and ends the leases here first.
 */
export async function postgresLeases(options: PostgresLeasesOptions): Promise<LeaseManager> {
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const client = new pg.Client({
    connectionString: options.connectionString,
    keepAlive: true,
    query_timeout: Math.max(2000, heartbeatMs * 2),
    application_name: options.applicationName ?? 'tworooms-lease',
  });
  await client.connect();
  const held = new HeldLeases();
  let ended = false;
  const end = async () => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    held.loseAll();
    await client.end().catch(() => {});
  };
  client.on('error', () => void end());
  client.on('end', () => void end());
  const heartbeat = setInterval(() => {
    client.query('SELECT 1').catch(() => void end());
  }, heartbeatMs);
  heartbeat.unref?.();

  return {
    async tryAcquire(name) {
      if (ended) throw new Error('The lease connection to PostgreSQL is closed.');
      if (held.has(name)) return undefined;
      const r = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok',
        [NAMESPACE, name],
      );
      if (!r.rows[0]?.ok) return undefined;
      return held.add(name, async () => {
        if (!ended)
          await client
            .query('SELECT pg_advisory_unlock($1, hashtext($2))', [NAMESPACE, name])
            .catch(() => {});
      });
    },
    close: end,
  };
}
