"""Statistics rollups kept by statement-level triggers, so a day's report is index reads.

Counting 100,000 e-mails of a day on every request took seconds; these tables hold the
counts per hour (statuses, bytes) and per day (senders, recipients, domains, reject
reasons), per server and for all servers (host '*'). The triggers see every INSERT and
DELETE of the search tables as transition tables (COPY included), so the writer's
"delete an e-mail, insert its new version" keeps them exact without knowing about them.
"""

_EMAILS = """
    INSERT INTO stats_hourly AS s (hour, host, kind, key, n, bytes)
    SELECT date_trunc('hour', t.first_seen, 'UTC'), v.h, 'email_status', t.status,
           {sign} * count(*), {sign} * COALESCE(sum(t.size), 0)
    FROM {rows} t CROSS JOIN LATERAL (VALUES (t.host), ('*')) AS v(h)
    WHERE t.first_seen IS NOT NULL
    GROUP BY 1, 2, 4
    ON CONFLICT (hour, host, kind, key)
    DO UPDATE SET n = s.n + excluded.n, bytes = s.bytes + excluded.bytes;
    INSERT INTO stats_daily AS s (day, host, kind, key, n, bytes)
    SELECT (t.first_seen AT TIME ZONE 'UTC')::date, v.h, k.kind, k.key,
           {sign} * count(*), {sign} * COALESCE(sum(t.size), 0)
    FROM {rows} t
    CROSS JOIN LATERAL (VALUES (t.host), ('*')) AS v(h)
    CROSS JOIN LATERAL (VALUES ('sender', lower(t.sender)),
                               ('sender_domain', t.sender_domain)) AS k(kind, key)
    WHERE t.first_seen IS NOT NULL AND k.key IS NOT NULL
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, host, kind, key)
    DO UPDATE SET n = s.n + excluded.n, bytes = s.bytes + excluded.bytes;
"""

_RECIPIENTS = """
    INSERT INTO stats_hourly AS s (hour, host, kind, key, n, bytes)
    SELECT date_trunc('hour', t.first_seen, 'UTC'), v.h, 'rcpt_status', t.status,
           {sign} * count(*), 0
    FROM {rows} t CROSS JOIN LATERAL (VALUES (t.email_host), ('*')) AS v(h)
    WHERE t.first_seen IS NOT NULL AND v.h IS NOT NULL
    GROUP BY 1, 2, 4
    ON CONFLICT (hour, host, kind, key) DO UPDATE SET n = s.n + excluded.n;
    INSERT INTO stats_daily AS s (day, host, kind, key, n, bytes)
    SELECT (t.first_seen AT TIME ZONE 'UTC')::date, v.h, k.kind, k.key, {sign} * count(*), 0
    FROM {rows} t
    CROSS JOIN LATERAL (VALUES (t.email_host), ('*')) AS v(h)
    CROSS JOIN LATERAL (VALUES ('rcpt', lower(t.address)), ('rcpt_domain', t.domain))
        AS k(kind, key)
    WHERE t.first_seen IS NOT NULL AND v.h IS NOT NULL AND k.key IS NOT NULL
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, host, kind, key) DO UPDATE SET n = s.n + excluded.n;
"""

_REJECTS = """
    INSERT INTO stats_daily AS s (day, host, kind, key, n, bytes)
    SELECT (t.at AT TIME ZONE 'UTC')::date, v.h, k.kind, k.key, {sign} * count(*), 0
    FROM {rows} t
    CROSS JOIN LATERAL (VALUES (t.host), ('*')) AS v(h)
    CROSS JOIN LATERAL (VALUES
        ('reject_action', t.action),
        ('reject_reason', btrim(COALESCE(t.code, '') || ' ' || left(COALESCE(t.reason, ''), 120))),
        ('reject_client', COALESCE(t.client_ip, ''))) AS k(kind, key)
    WHERE t.at IS NOT NULL AND v.h IS NOT NULL AND k.key IS NOT NULL
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, host, kind, key) DO UPDATE SET n = s.n + excluded.n;
"""


_PRUNE = """
-- Retention now also drops rollup rows older than the cutoff.
CREATE OR REPLACE FUNCTION else_prune(p_before timestamptz) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record;
    v_parts integer := 0;
    v_emails bigint;
    v_rejects bigint;
    v_samples bigint;
    v_raw_rejects bigint;
BEGIN
    FOR r IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'raw_events'::regclass
    LOOP
        IF substring(r.bound from 'TO \\(''([^'']+)''\\)')::timestamptz <= p_before THEN
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
    DELETE FROM search_history WHERE at < p_before;
    DELETE FROM stats_hourly WHERE hour < date_trunc('hour', p_before, 'UTC');
    DELETE FROM stats_daily WHERE day < (p_before AT TIME ZONE 'UTC')::date;
    RETURN jsonb_build_object('raw_partitions', v_parts, 'emails', v_emails,
                              'rejects', v_rejects, 'snmp_samples', v_samples,
                              'raw_rejects', v_raw_rejects);
END $$;
"""


def _function(name: str, body: str, rows: str, sign: str) -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $fn$
BEGIN
{body.format(rows=rows, sign=sign)}
    RETURN NULL;
END $fn$;
"""


def _triggers(table: str, body: str, short: str) -> str:
    ins, dele = f"else_stats_{short}_ins", f"else_stats_{short}_del"
    return (
        _function(ins, body, "new_rows", "1")
        + _function(dele, body, "old_rows", "-1")
        + f"""
CREATE TRIGGER {ins} AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {ins}();
CREATE TRIGGER {dele} AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {dele}();
"""
    )


SQL = (
    r"""
CREATE TABLE stats_hourly (
    hour   timestamptz NOT NULL,
    host   text NOT NULL,            -- a server, or '*' for all of them
    kind   text NOT NULL,            -- email_status | rcpt_status
    key    text NOT NULL,
    n      bigint NOT NULL DEFAULT 0,
    bytes  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, host, kind, key)
);
CREATE TABLE stats_daily (
    day    date NOT NULL,            -- UTC
    host   text NOT NULL,
    kind   text NOT NULL,            -- sender | sender_domain | rcpt | rcpt_domain | reject_*
    key    text NOT NULL,
    n      bigint NOT NULL DEFAULT 0,
    bytes  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, host, kind, key)
);
CREATE INDEX stats_daily_top ON stats_daily (day, host, kind, n DESC, key);
"""
    + _triggers("emails", _EMAILS, "emails")
    + _triggers("email_recipients", _RECIPIENTS, "rcpt")
    + _triggers("rejects", _REJECTS, "rejects")
    + """
-- A database upgraded with data already in it: count what is there.
UPDATE email_recipients r SET first_seen = e.first_seen, email_host = e.host
    FROM emails e WHERE e.id = r.email_id AND r.first_seen IS NULL;
"""
    + _PRUNE
    + _EMAILS.format(rows="emails", sign="1")
    + _RECIPIENTS.format(rows="email_recipients", sign="1")
    + _REJECTS.format(rows="rejects", sign="1")
)
