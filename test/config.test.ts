import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { redact } from '../src/cli/migrate.js';
import { ConfigError, isPostgresUrl, loadConfig } from '../src/config.js';

describe('loadConfig: the write and read DBs', () => {
  it('defaults to two SQLite files in the data directory', () => {
    const c = loadConfig({ TWOROOMS_DATA_DIR: '/tmp/tw' });
    expect(c.writeDb).toBe('/tmp/tw/write.db');
    expect(c.readDb).toBe('/tmp/tw/read.db');
    expect(loadConfig({ TWOROOMS_WRITE_DB: 'sqlite:w.db' }).writeDb).toBe(resolve('w.db'));
  });

  it('runs projections on the projector thread unless TWOROOMS_PROJECT_THREAD=off', () => {
    expect(loadConfig({}).sqliteProjectThread).toBe(true);
    expect(loadConfig({ TWOROOMS_PROJECT_THREAD: 'on' }).sqliteProjectThread).toBe(true);
    expect(loadConfig({ TWOROOMS_PROJECT_THREAD: 'off' }).sqliteProjectThread).toBe(false);
    expect(() => loadConfig({ TWOROOMS_PROJECT_THREAD: 'maybe' })).toThrow(
      'TWOROOMS_PROJECT_THREAD must be on or off',
    );
  });

  it('keeps a near layer in front of a Redis cache unless TWOROOMS_CACHE_NEAR=off', () => {
    const redis = { TWOROOMS_CACHE: 'redis://127.0.0.1:6379' };
    expect(loadConfig(redis).cache?.near).toBe(true);
    expect(loadConfig({ ...redis, TWOROOMS_CACHE_NEAR: 'off' }).cache?.near).toBe(false);
    expect(() => loadConfig({ ...redis, TWOROOMS_CACHE_NEAR: 'maybe' })).toThrow(
      'TWOROOMS_CACHE_NEAR must be on or off',
    );
  });

  it('runs commands on the writer thread unless TWOROOMS_WRITE_THREAD=off', () => {
    expect(loadConfig({}).sqliteWriteThread).toBe(true);
    for (const on of ['on', 'ON', 'true', '1']) {
      expect(loadConfig({ TWOROOMS_WRITE_THREAD: on }).sqliteWriteThread).toBe(true);
    }
    for (const off of ['off', 'false', '0']) {
      expect(loadConfig({ TWOROOMS_WRITE_THREAD: off }).sqliteWriteThread).toBe(false);
    }
    expect(() => loadConfig({ TWOROOMS_WRITE_THREAD: 'yes please' })).toThrow(
      'TWOROOMS_WRITE_THREAD must be on or off',
    );
  });

  it('takes two PostgreSQL URLs as they are', () => {
    const env = {
      TWOROOMS_WRITE_DB: 'postgres://app:secret@db.example:5432/shop',
      TWOROOMS_READ_DB: 'postgresql://app@db.example/shop_read?sslmode=require',
    };
    const c = loadConfig(env);
    expect(c.writeDb).toBe(env.TWOROOMS_WRITE_DB);
    expect(c.readDb).toBe(env.TWOROOMS_READ_DB);
    expect(isPostgresUrl(c.writeDb) && isPostgresUrl(c.readDb)).toBe(true);
  });

  it('refuses a mix of SQLite and PostgreSQL, one database for both, and other schemes', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ TWOROOMS_WRITE_DB: 'postgres://h/w' }, /both be SQLite files or both postgres/],
      [{ TWOROOMS_READ_DB: 'postgres://h/r' }, /both be SQLite files or both postgres/],
      [
        { TWOROOMS_WRITE_DB: 'postgres://h/x', TWOROOMS_READ_DB: 'postgres://h/x' },
        /two different databases/,
      ],
      [{ TWOROOMS_WRITE_DB: 'mysql://u:pw@h/db' }, /SQLite file path or a postgres:\/\/ URL/],
      [{ TWOROOMS_READ_DB: 'redis://h:6379' }, /SQLite file path or a postgres:\/\/ URL/],
      [{ TWOROOMS_WRITE_DB: 'postgres://[bad', TWOROOMS_READ_DB: 'postgres://h/r' }, /valid/],
    ];
    for (const [env, message] of cases) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    }
  });

  it('never repeats a password in its messages', () => {
    expect(() => loadConfig({ TWOROOMS_WRITE_DB: 'mysql://u:hunter2@h/db' })).toThrow(
      /^(?!.*hunter2)/,
    );
  });
});

describe('redact', () => {
  it('hides a URL password and leaves everything else as it is', () => {
    expect(redact('postgres://app:s3cr%40t@db.example:5432/shop')).toBe(
      'postgres://app:…@db.example:5432/shop',
    );
    expect(redact('postgresql://app@db/shop')).toBe('postgresql://app@db/shop');
    expect(redact('/data/write.db')).toBe('/data/write.db');
    expect(redact('redis://:hunter2@cache:6379/0')).toBe('redis://:…@cache:6379/0');
  });
});
