import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server test databases are made on; override with `TWOROOMS_TEST_PG_URL`. */
export const testServerUrl =
  process.env['TWOROOMS_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A throw-away database for one test run. */
export interface TestDatabase {
  /** Connection string of the new database. */
  readonly url: string;
  /** Drops the database, closing any connection still open on it. */
  drop(): Promise<void>;
}

/** True when the test server answers; under `CI=true` an unreachable server throws instead. */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: testServerUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch (error) {
    if (process.env['CI'] === 'true') {
      throw new Error(`PostgreSQL is required under CI but ${testServerUrl} is unreachable`, {
        cause: error,
      });
    }
    console.warn(`PostgreSQL at ${testServerUrl} is unreachable: skipping its tests`);
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Creates a uniquely named database (`<prefix>_<random>`) on the test server. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const safePrefix = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 40);
  const name = `${safePrefix}_${randomBytes(6).toString('hex')}`;
  await onServer(`CREATE DATABASE "${name}"`);
  const url = new URL(testServerUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => onServer(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

async function onServer(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: testServerUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`PostgreSQL test server ${testServerUrl} is unreachable`, { cause: error });
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
