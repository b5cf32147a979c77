/** Prefix of the `application_name` a transaction shows while it holds event positions. */
export const inFlightMarker = 'tworooms@';

/**
 * The write DB's event log on PostgreSQL. Positions come from a sequence and become visible out
 * of order when transactions commit out of order; `tworooms_horizon()` is the position below
 * which nothing can still appear (see docs/architecture.md, "PostgreSQL event log").
 */
export const eventLogMigrations = [
  {
    name: '0001_event_log',
    sql: `
      -- CACHE 1 (the default) is required: the horizon reads the sequence's last value as
      -- "every position handed out so far"; a per-session cache would hand out values later.
      CREATE SEQUENCE tworooms_event_position AS bigint CACHE 1;

      CREATE TABLE events (
        position       bigint      PRIMARY KEY,
        id             uuid        NOT NULL DEFAULT gen_random_uuid(),
        stream_id      text        NOT NULL,
        stream_version bigint      NOT NULL,
        type           text        NOT NULL,
        data           text        NOT NULL, -- JSON text, kept byte for byte (jsonb would not)
        metadata       text        NOT NULL,
        recorded_at    timestamptz NOT NULL,
        UNIQUE (stream_id, stream_version)
      );

      CREATE TABLE idempotency_keys (
        key         text        PRIMARY KEY,
        fingerprint text        NOT NULL,
        result      text        NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      );

      -- Appends to one stream. p_expected: -1 any, -2 no_stream, -3 stream_exists, >= 0 exact.
      -- Returns {version, first, last}; first = -1 means a version conflict and nothing written
      -- (no exception, so a group commit needs no savepoint for plain appends).
      CREATE FUNCTION tworooms_append(
        p_stream text, p_expected bigint, p_types text[], p_data text[], p_metadata text[],
        p_recorded_at timestamptz
      ) RETURNS bigint[] LANGUAGE plpgsql AS $fn$
      DECLARE
        v_current bigint;
        v_pos bigint;
        v_first bigint := 0;
        n int := coalesce(cardinality(p_types), 0);
      BEGIN
        -- Appenders to one stream queue here, so a loser sees the winner's events and gets a
        -- clean conflict instead of a unique violation (and burns no position).
        PERFORM pg_advisory_xact_lock(1953657453, hashtext(p_stream));
        SELECT coalesce(max(stream_version), 0) INTO v_current FROM events WHERE stream_id = p_stream;
        IF (p_expected = -2 AND v_current <> 0) OR (p_expected = -3 AND v_current = 0)
           OR (p_expected >= 0 AND p_expected <> v_current) THEN
          RETURN ARRAY[v_current, -1, -1];
        END IF;
        IF n = 0 THEN
          RETURN ARRAY[v_current, 0, 0];
        END IF;
        -- Publish a lower bound of this transaction's positions BEFORE taking the first one, for
        -- as long as the transaction runs (a transaction-local setting: it is reset after the
        -- commit or rollback has become visible, and undone with a rolled-back savepoint).
        IF left(current_setting('application_name'), 9) <> '${inFlightMarker}' THEN
          PERFORM set_config('application_name', '${inFlightMarker}' ||
            (coalesce(pg_sequence_last_value('tworooms_event_position'), 0) + 1)::text, true);
        END IF;
        FOR i IN 1..n LOOP
          v_pos := nextval('tworooms_event_position');
          IF i = 1 THEN v_first := v_pos; END IF;
          INSERT INTO events (position, stream_id, stream_version, type, data, metadata, recorded_at)
          VALUES (v_pos, p_stream, v_current + i, p_types[i], p_data[i], p_metadata[i], p_recorded_at);
        END LOOP;
        -- Identical notifications are folded into one per transaction.
        PERFORM pg_notify('tworooms_events', '');
        RETURN ARRAY[v_current + n, v_first, v_pos];
      END $fn$;

      -- Several appends in one statement (a group commit of plain appends: one round trip).
      -- Append j has p_counts[j] events, taken in order from the flattened event arrays.
      -- Returns the {version, first, last} of each append, one after the other.
      CREATE FUNCTION tworooms_append_many(
        p_streams text[], p_expected bigint[], p_counts int[], p_types text[], p_data text[],
        p_metadata text[], p_recorded_at timestamptz
      ) RETURNS bigint[] LANGUAGE plpgsql AS $fn$
      DECLARE
        v_out bigint[] := '{}';
        k int := 1;
        e int;
      BEGIN
        FOR j IN 1..coalesce(cardinality(p_streams), 0) LOOP
          e := k + p_counts[j] - 1;
          v_out := v_out || tworooms_append(p_streams[j], p_expected[j], p_types[k:e],
                                            p_data[k:e], p_metadata[k:e], p_recorded_at);
          k := e + 1;
        END LOOP;
        RETURN v_out;
      END $fn$;

      -- {head, horizon, last}: every position <= horizon is final (committed, or never will
      -- be); head is the last committed position <= horizon; last is the sequence's last value.
      -- horizon < last while a transaction holding an earlier position is still open.
      CREATE FUNCTION tworooms_horizon() RETURNS bigint[] LANGUAGE plpgsql AS $fn$
      DECLARE
        v_last bigint;
        v_low bigint;
        v_horizon bigint;
        v_head bigint;
      BEGIN
        -- 1. Every position <= v_last was taken by a transaction that had published its marker.
        v_last := coalesce(pg_sequence_last_value('tworooms_event_position'), 0);
        -- 2. Read the markers afterwards (fresh: the activity snapshot is cached per transaction).
        PERFORM pg_stat_clear_snapshot();
        SELECT min(substr(a.application_name, ${inFlightMarker.length + 1})::bigint) INTO v_low
          FROM pg_stat_get_activity(NULL) a
         WHERE a.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND a.pid <> pg_backend_pid()
           AND left(a.application_name, ${inFlightMarker.length}) = '${inFlightMarker}';
        v_horizon := CASE WHEN v_low IS NULL OR v_low > v_last THEN v_last ELSE v_low - 1 END;
        -- 3. A statement (so a snapshot) taken after the markers were read sees every commit
        --    at or below the horizon.
        SELECT coalesce(max(e.position), 0) INTO v_head FROM events e WHERE e.position <= v_horizon;
        RETURN ARRAY[v_head, v_horizon, v_last];
      END $fn$;

      -- One page of the log after p_after, up to the horizon: a first row (pos NULL) with
      -- tworooms_horizon(), then the events, read with a snapshot taken after the horizon's.
      CREATE FUNCTION tworooms_read_all(p_after bigint, p_limit int, p_types text[])
      RETURNS TABLE (
        head bigint, horizon bigint, last bigint, pos bigint, id uuid, stream_id text,
        stream_version bigint, type text, data text, metadata text, recorded_at timestamptz
      ) LANGUAGE plpgsql AS $fn$
      DECLARE
        h bigint[];
      BEGIN
        h := tworooms_horizon();
        RETURN QUERY SELECT h[1], h[2], h[3], NULL::bigint, NULL::uuid, NULL::text, NULL::bigint,
          NULL::text, NULL::text, NULL::text, NULL::timestamptz;
        RETURN QUERY
          SELECT h[1], h[2], h[3], e.position, e.id, e.stream_id, e.stream_version, e.type, e.data,
                 e.metadata, e.recorded_at
            FROM events e
           WHERE e.position > p_after AND e.position <= h[2]
             AND (p_types IS NULL OR e.type = ANY (p_types))
           ORDER BY e.position
           LIMIT p_limit;
      END $fn$;

      -- Serialises users of one idempotency key across processes, then returns its record.
      CREATE FUNCTION tworooms_claim_key(p_key text)
      RETURNS TABLE (fingerprint text, result text) LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM pg_advisory_xact_lock(1953657451, hashtext(p_key));
        RETURN QUERY SELECT k.fingerprint, k.result FROM idempotency_keys k WHERE k.key = p_key;
      END $fn$;`,
  },
  {
    // PL/pgSQL keeps a generic plan of each statement per session once it looks no worse than
    // the custom ones: made while `events` (or `idempotency_keys`) was small, it can be a sequential
    // scan, kept until the table is next analyzed (as the stream reads' prepared statements were). These functions plan their few statements at
    // each call instead. (tworooms_append's stream lookup is a min/max query, which keeps its
    // index path; its inserts have no plan to choose.)
    name: '0002_custom_plans',
    sql: `
      ALTER FUNCTION tworooms_horizon() SET plan_cache_mode = force_custom_plan;
      ALTER FUNCTION tworooms_read_all(bigint, int, text[]) SET plan_cache_mode = force_custom_plan;
      ALTER FUNCTION tworooms_claim_key(text) SET plan_cache_mode = force_custom_plan;`,
  },
  {
    // tworooms_append with one INSERT for an append of several events (it was one per event):
    // the positions are taken first, in order, then every row is inserted by one statement.
    name: '0003_append_rows_at_once',
    sql: `
      CREATE OR REPLACE FUNCTION tworooms_append(
        p_stream text, p_expected bigint, p_types text[], p_data text[], p_metadata text[],
        p_recorded_at timestamptz
      ) RETURNS bigint[] LANGUAGE plpgsql AS $fn$
      DECLARE
        v_current bigint;
        v_positions bigint[];
        n int := coalesce(cardinality(p_types), 0);
      BEGIN
        -- As in 0001: appenders to one stream queue here; a conflict writes nothing.
        PERFORM pg_advisory_xact_lock(1953657453, hashtext(p_stream));
        SELECT coalesce(max(stream_version), 0) INTO v_current FROM events WHERE stream_id = p_stream;
        IF (p_expected = -2 AND v_current <> 0) OR (p_expected = -3 AND v_current = 0)
           OR (p_expected >= 0 AND p_expected <> v_current) THEN
          RETURN ARRAY[v_current, -1, -1];
        END IF;
        IF n = 0 THEN
          RETURN ARRAY[v_current, 0, 0];
        END IF;
        -- The in-flight marker, published before the first position is taken (see 0001).
        IF left(current_setting('application_name'), 9) <> '${inFlightMarker}' THEN
          PERFORM set_config('application_name', '${inFlightMarker}' ||
            (coalesce(pg_sequence_last_value('tworooms_event_position'), 0) + 1)::text, true);
        END IF;
        IF n = 1 THEN
          v_positions := ARRAY[nextval('tworooms_event_position')];
          INSERT INTO events (position, stream_id, stream_version, type, data, metadata, recorded_at)
          VALUES (v_positions[1], p_stream, v_current + 1, p_types[1], p_data[1], p_metadata[1],
                  p_recorded_at);
        ELSE
          -- Sorted, so that positions follow stream versions whatever order nextval ran in.
          SELECT array_agg(p ORDER BY p) INTO v_positions
            FROM (SELECT nextval('tworooms_event_position') AS p FROM generate_series(1, n)) s;
          INSERT INTO events (position, stream_id, stream_version, type, data, metadata, recorded_at)
          SELECT u.p, p_stream, v_current + u.i, u.t, u.d, u.m, p_recorded_at
            FROM unnest(v_positions, p_types, p_data, p_metadata) WITH ORDINALITY AS u(p, t, d, m, i);
        END IF;
        -- Identical notifications are folded into one per transaction.
        PERFORM pg_notify('tworooms_events', '');
        RETURN ARRAY[v_current + n, v_positions[1], v_positions[n]];
      END $fn$;`,
  },
  {
    // A page of the log after a position is read from the primary key in position order. Without
    // statistics on events (autovacuum off, a log just loaded), PostgreSQL planned it as a scan
    // of every event after the position (bitmap or sequential) and a sort: each page of a
    // rebuild or a catch-up read the whole rest of the log. These settings hold inside the
    // function only; with them the index's order is the one plan left that is not penalised.
    name: '0004_read_all_in_position_order',
    sql: `
      ALTER FUNCTION tworooms_read_all(bigint, int, text[])
        SET enable_bitmapscan = off SET enable_seqscan = off SET enable_sort = off;`,
  },
] as const;
