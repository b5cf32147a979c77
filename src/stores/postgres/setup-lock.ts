import type pg from 'pg';
import type { Sql } from '../../core/sql.js';
import { pgSql } from './sql.js';

// Any constant: the same in every process sharing the database (apart from migrate's key).
const SETUP_LOCK_KEY = '7365046531220012';

/**
 * Takes the set-up lock for the rest of `client`'s transaction. Schema set-up (`CREATE … IF
 * NOT EXISTS`) by processes starting together can otherwise fail on PostgreSQL's catalog
 * ("duplicate key value violates unique constraint pg_type_typname_nsp_index").
 */
export async function takeSetupLock(client: pg.ClientBase): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK_KEY]);
}

/** Runs schema set-up in one transaction of a pooled client, under the set-up lock. */
export async function withSetupLock<T>(pool: pg.Pool, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await takeSetupLock(client);
    const result = await fn(pgSql(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
