"""Retention deletes an e-mail's rows in every search table, not only in ``emails``.

``else_prune`` deleted old ``emails`` rows but left their transactions, recipients,
delivery attempts and rejects behind (the search tables have no foreign keys, see
migration 2): those tables kept growing past the retention period, and their rows still
counted in reports that scan them. It now deletes the children of the e-mails it prunes,
in one statement with the e-mails themselves, and reports how many. The one-off
DELETEs below remove what earlier prunes left behind: the writer commits an e-mail and its
children together, so a committed child without its e-mail is always such an orphan.
"""

SQL = r"""
CREATE OR REPLACE FUNCTION else_prune(p_before timestamptz) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record;
    v_parts integer := 0;
    v_emails bigint;
    v_transactions bigint;
    v_recipients bigint;
    v_deliveries bigint;
    v_email_rejects bigint;
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
    -- One statement: every part sees the same e-mails, whatever the worker commits meanwhile.
    WITH p AS (SELECT id FROM emails WHERE last_seen < p_before),
         t AS (DELETE FROM transactions t USING p WHERE t.email_id = p.id RETURNING 1),
         x AS (DELETE FROM email_recipients x USING p WHERE x.email_id = p.id RETURNING 1),
         d AS (DELETE FROM deliveries d USING p WHERE d.email_id = p.id RETURNING 1),
         j AS (DELETE FROM rejects j USING p WHERE j.email_id = p.id RETURNING 1),
         e AS (DELETE FROM emails e USING p WHERE e.id = p.id RETURNING 1)
    SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM t), (SELECT count(*) FROM x),
           (SELECT count(*) FROM d), (SELECT count(*) FROM j)
    INTO v_emails, v_transactions, v_recipients, v_deliveries, v_email_rejects;
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
                              'transactions', v_transactions,
                              'email_recipients', v_recipients,
                              'deliveries', v_deliveries,
                              'rejects', v_rejects + v_email_rejects,
                              'snmp_samples', v_samples,
                              'raw_rejects', v_raw_rejects,
                              'store_rejects', v_store_rejects);
END $$;

DELETE FROM transactions t WHERE NOT EXISTS (SELECT 1 FROM emails e WHERE e.id = t.email_id);
DELETE FROM email_recipients x
    WHERE NOT EXISTS (SELECT 1 FROM emails e WHERE e.id = x.email_id);
DELETE FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM emails e WHERE e.id = d.email_id);
DELETE FROM rejects j
    WHERE j.email_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM emails e WHERE e.id = j.email_id);
"""
