/** The write DB's own tables: the event log (archive and outbox) and idempotency records. */
export const eventLogMigrations = [
  {
    name: '0001_event_log',
    sql: `
      CREATE TABLE events (
        position       INTEGER PRIMARY KEY,
        id             TEXT    NOT NULL, -- a UUIDv4 made by the store: unique by construction, so no index (it would cost a random page write per commit)
        stream_id      TEXT    NOT NULL,
        stream_version INTEGER NOT NULL,
        type           TEXT    NOT NULL,
        data           TEXT    NOT NULL,
        metadata       TEXT    NOT NULL,
        recorded_at    INTEGER NOT NULL,
        UNIQUE (stream_id, stream_version)
      );
      CREATE TABLE idempotency_keys (
        key         TEXT    PRIMARY KEY,
        fingerprint TEXT    NOT NULL,
        result      TEXT    NOT NULL,
        created_at  INTEGER NOT NULL
      );`,
  },
] as const;

/** The read DB's bookkeeping: one checkpoint row per projection. */
export const readStoreMigrations = [
  {
    name: '0001_checkpoints',
    sql: `
      CREATE TABLE tworooms_checkpoints (
        name       TEXT    PRIMARY KEY,
        version    INTEGER NOT NULL,
        position   INTEGER NOT NULL,
        status     TEXT    NOT NULL,
        failure    TEXT,
        updated_at INTEGER NOT NULL
      );`,
  },
  {
    // Blue/green generation and the operator's skips, as JSON ({generation, skipped}).
    name: '0002_checkpoint_meta',
    sql: 'ALTER TABLE tworooms_checkpoints ADD COLUMN meta TEXT',
  },
] as const;
