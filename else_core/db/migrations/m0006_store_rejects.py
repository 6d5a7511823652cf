"""Rows the store could not write are quarantined, never a stopped ingest or import.

One e-mail, reject or line that PostgreSQL refuses (a constraint, a value no index can
hold, anything per row) used to fail its whole batch: the worker exited and failed on
the same batch at every restart, an import aborted. The writer now retries a failed
batch one record at a time and keeps each record it still cannot store here, verbatim
(as JSON; its raw lines stay in raw_events under ``raw_ids``) with the reason and
SQLSTATE, as raw_rejects does for the ingest function. Over-long values no longer fail
at all: the writer bounds the values of btree-indexed columns (the full value stays in
``emails.doc``), see else_core.store.writer.index_key.
"""

SQL = r"""
CREATE TABLE store_rejects (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    source     text NOT NULL,             -- live | import
    import_id  bigint,                    -- import_files.id for an import
    kind       text NOT NULL,             -- email | reject | line
    email_id   text,
    raw_ids    bigint[] NOT NULL DEFAULT '{}',
    reason     text NOT NULL,
    sqlstate   text,
    record     text NOT NULL              -- the e-mail/reject as JSON, or the line
);
CREATE INDEX store_rejects_at ON store_rejects (at);

-- Retention also drops quarantined rows older than the cutoff.
CREATE OR REPLACE FUNCTION else_prune(p_before timestamptz) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record;
    v_parts integer := 0;
    v_emails bigint;
    v_rejects bigint;
    v_samples bigint;
    v_raw_rejects bigint;
    v_store_rejects bigint;
BEGIN
    FOR r IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'raw_events'::regclass
    LOOP
        IF substring(r.bound from 'TO \(''([^'']+)''\)')::timestamptz <= p_before THEN
            EXECUTE format('DROP TABLE %I', r.relname);
            v_parts := v_parts + 1;
        END IF;
    END LOOP;
    DELETE FROM emails WHERE last_seen < p_before;
    GET DIAGNOSTICS v_emails = ROW_COUNT;
    DELETE FROM rejects WHERE at < p_before AND email_id IS NULL;
    GET DIAGNOSTICS v_rejects = ROW_COUNT;
    DELETE FROM snmp_samples WHERE at < p_before;
    GET DIAGNOSTICS v_samples = ROW_COUNT;
    DELETE FROM raw_rejects WHERE at < p_before;
    GET DIAGNOSTICS v_raw_rejects = ROW_COUNT;
    DELETE FROM store_rejects WHERE at < p_before;
    GET DIAGNOSTICS v_store_rejects = ROW_COUNT;
    DELETE FROM search_history WHERE at < p_before;
    DELETE FROM stats_hourly WHERE hour < date_trunc('hour', p_before, 'UTC');
    DELETE FROM stats_daily WHERE day < (p_before AT TIME ZONE 'UTC')::date;
    RETURN jsonb_build_object('raw_partitions', v_parts, 'emails', v_emails,
                              'rejects', v_rejects, 'snmp_samples', v_samples,
                              'raw_rejects', v_raw_rejects,
                              'store_rejects', v_store_rejects);
END $$;
"""
