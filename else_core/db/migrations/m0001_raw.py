"""Raw syslog lines, the ingest function rsyslog calls, day partitions and rejects."""

SQL = r"""
CREATE TABLE raw_events (
    id          bigserial NOT NULL,
    received_at timestamptz NOT NULL,
    reported_at timestamptz,
    host        text NOT NULL,
    fromip      inet,
    program     text NOT NULL DEFAULT '',
    pid         integer,
    facility    smallint,
    severity    smallint,
    message     text NOT NULL,
    -- NULL for lines rsyslog delivered; the import_files.id of a bulk import otherwise
    -- (the import correlates its own lines, so the live worker skips them).
    import_id   bigint
) PARTITION BY RANGE (received_at);

-- Bulk imports draw ids from their own range (2^62 and up), so live ids stay dense and
-- the worker can read a gap in them as "a transaction still in flight".
CREATE SEQUENCE raw_import_id_seq AS bigint START WITH 4611686018427387904
    MINVALUE 4611686018427387904;

CREATE INDEX raw_events_id ON raw_events (id);
CREATE INDEX raw_events_live_id ON raw_events (id) WHERE import_id IS NULL;

-- Rows else_ingest_line() could not store, kept verbatim (as text) with the reason.
CREATE TABLE raw_rejects (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    reason    text NOT NULL,
    sqlstate  text,
    received  text,
    reported  text,
    host      text,
    fromip    text,
    program   text,
    pid       text,
    facility  text,
    severity  text,
    message   text
);
CREATE INDEX raw_rejects_at ON raw_rejects (at);

-- One partition per UTC day; creating an existing one is a no-op, and a concurrent
-- creator losing the race is not an error.
CREATE FUNCTION else_raw_partition(p_day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_name text := 'raw_events_' || to_char(p_day, 'YYYYMMDD');
BEGIN
    IF to_regclass(v_name) IS NULL THEN
        BEGIN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF raw_events FOR VALUES FROM (%L) TO (%L)',
                v_name,
                (p_day::timestamp AT TIME ZONE 'UTC'),
                ((p_day + 1)::timestamp AT TIME ZONE 'UTC'));
        EXCEPTION WHEN duplicate_table OR invalid_object_definition THEN
            NULL;
        END;
    END IF;
    RETURN v_name;
END $$;

-- Partitions for yesterday .. p_ahead days ahead, so the ingest path rarely needs the
-- on-demand branch.
CREATE FUNCTION else_raw_partitions_ahead(p_ahead integer DEFAULT 7) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_today date := (now() AT TIME ZONE 'UTC')::date;
    v_n integer := 0;
BEGIN
    FOR i IN -1 .. p_ahead LOOP
        PERFORM else_raw_partition(v_today + i);
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END $$;

-- The one entry point rsyslog (ompgsql, option.stdsql) calls per line. It never raises:
-- ompgsql 8.2302 loses the earlier rows of a batch when one statement fails, so a row
-- that cannot be stored is written to raw_rejects with the reason instead.
CREATE FUNCTION else_ingest_line(
    p_received text, p_reported text, p_host text, p_fromip text, p_program text,
    p_pid text, p_facility text, p_severity text, p_message text
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_received timestamptz;
    v_reported timestamptz;
    v_fromip   inet;
    v_pid      integer;
    v_facility smallint;
    v_severity smallint;
    v_pidtext  text := btrim(p_pid);
    v_problem  text;
BEGIN
    BEGIN
        -- Validate everything before the INSERT so a bad row does not burn a sequence
        -- value (the worker treats id gaps as possibly in-flight transactions).
        v_problem := CASE
            WHEN p_received IS NULL THEN 'received time is NULL'
            WHEN p_reported IS NULL THEN 'reported time is NULL'
            WHEN p_host IS NULL OR p_host = '' THEN 'host is NULL or empty'
            WHEN p_message IS NULL THEN 'message is NULL'
            WHEN length(p_host) > 255 THEN 'host longer than 255 characters'
            WHEN length(p_program) > 255 THEN 'program longer than 255 characters'
            WHEN length(p_message) > 65536 THEN 'message longer than 65536 characters'
        END;
        IF v_problem IS NOT NULL THEN
            RAISE EXCEPTION '%', v_problem USING ERRCODE = '22023';
        END IF;
        v_received := p_received::timestamptz;
        v_reported := p_reported::timestamptz;
        IF isfinite(v_received) IS NOT TRUE OR isfinite(v_reported) IS NOT TRUE THEN
            RAISE EXCEPTION 'timestamp is not finite' USING ERRCODE = '22008';
        END IF;
        v_fromip := NULLIF(btrim(p_fromip), '')::inet;
        IF v_pidtext IS NULL OR v_pidtext IN ('', '-') THEN
            v_pid := NULL;
        ELSIF v_pidtext ~ '^[0-9]{1,9}$' THEN
            v_pid := v_pidtext::integer;
        ELSE
            RAISE EXCEPTION 'invalid pid %', left(v_pidtext, 40) USING ERRCODE = '22P02';
        END IF;
        v_facility := NULLIF(btrim(p_facility), '')::smallint;
        v_severity := NULLIF(btrim(p_severity), '')::smallint;
        IF v_facility NOT BETWEEN 0 AND 23 OR v_severity NOT BETWEEN 0 AND 7 THEN
            RAISE EXCEPTION 'facility/severity out of range' USING ERRCODE = '22003';
        END IF;
        -- Make a missing day first: a failed INSERT would burn an id (a gap the worker
        -- waits on); the exception branch below stays as a safety net for races.
        IF to_regclass('raw_events_' || to_char(v_received AT TIME ZONE 'UTC', 'YYYYMMDD'))
                IS NULL THEN
            PERFORM else_raw_partition((v_received AT TIME ZONE 'UTC')::date);
        END IF;
        BEGIN
            INSERT INTO raw_events (received_at, reported_at, host, fromip, program, pid,
                                    facility, severity, message)
            VALUES (v_received, v_reported, p_host, v_fromip, COALESCE(p_program, ''), v_pid,
                    v_facility, v_severity, p_message);
        EXCEPTION WHEN check_violation THEN
            -- "no partition of relation found for row": make the day, then try once more.
            PERFORM else_raw_partition((v_received AT TIME ZONE 'UTC')::date);
            INSERT INTO raw_events (received_at, reported_at, host, fromip, program, pid,
                                    facility, severity, message)
            VALUES (v_received, v_reported, p_host, v_fromip, COALESCE(p_program, ''), v_pid,
                    v_facility, v_severity, p_message);
        END;
        PERFORM pg_notify('else_raw', '');
    EXCEPTION WHEN others THEN
        BEGIN
            INSERT INTO raw_rejects (reason, sqlstate, received, reported, host, fromip, program,
                                     pid, facility, severity, message)
            VALUES (SQLERRM, SQLSTATE, left(p_received, 200), left(p_reported, 200),
                    left(p_host, 1000), left(p_fromip, 200), left(p_program, 1000),
                    left(p_pid, 200), left(p_facility, 200), left(p_severity, 200),
                    left(p_message, 1048576));
        EXCEPTION WHEN others THEN
            RAISE WARNING 'else_ingest_line: could not record a rejected row: %', SQLERRM;
        END;
    END;
END $$;

-- Servers ELSE knows (the SNMP poller updates the status columns).
CREATE TABLE servers (
    name                 text PRIMARY KEY,
    address              text,
    role                 text NOT NULL DEFAULT 'mixed'
                         CHECK (role IN ('incoming', 'outgoing', 'relay', 'filter', 'mixed')),
    snmp_enabled         boolean NOT NULL DEFAULT true,
    consecutive_failures integer NOT NULL DEFAULT 0,
    down                 boolean NOT NULL DEFAULT false,
    last_poll            timestamptz,
    last_ok              timestamptz,
    last_error           text
);

CREATE TABLE snmp_samples (
    id      bigserial PRIMARY KEY,
    server  text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    ok      boolean NOT NULL,
    error   text,
    metrics jsonb
);
CREATE INDEX snmp_samples_server_at ON snmp_samples (server, at);
CREATE INDEX snmp_samples_at ON snmp_samples (at);

CREATE TABLE audit_log (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text,
    action text NOT NULL,
    target text,
    result text,
    detail jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);

SELECT else_raw_partitions_ahead(7);
"""
