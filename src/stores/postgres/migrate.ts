import type pg from 'pg';

/** One named schema change; applied once per database. */
export interface Migration {
  readonly name: string;
  readonly sql: string;
}

// Any constant works: it only has to be the same in every process sharing the database.
const migrationLockKey = 7_365_046_531_220_011n;

/**
 * Applies named migrations once each, in order, recording them in `tworooms_migrations`.
 * All of it runs in one transaction under an advisory lock, so two processes starting at
 * once apply each migration exactly once and neither sees a half-migrated schema.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLockKey.toString()]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS tworooms_migrations (
         name       TEXT PRIMARY KEY,
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ name: string }>('SELECT name FROM tworooms_migrations');
    const applied = new Set(rows.map((r) => r.name));
    for (const m of migrations) {
      if (applied.has(m.name)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO tworooms_migrations (name) VALUES ($1)', [m.name]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
