"""Worker state, import bookkeeping, lag, and the WUI's users, groups and searches."""

SQL = r"""
-- The ingest worker's cursor and pickled correlator, written in the same transaction
-- as the rows they produced.
CREATE TABLE ingest_state (
    name        text PRIMARY KEY,
    cursor      bigint NOT NULL DEFAULT 0,
    state       bytea,
    lines       bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per imported file (by content fingerprint), so a re-import is a no-op.
CREATE TABLE import_files (
    id           bigserial PRIMARY KEY,
    fingerprint  text NOT NULL UNIQUE,
    path         text NOT NULL,
    size         bigint NOT NULL,
    lines        bigint NOT NULL DEFAULT 0,
    first_ts     timestamptz,
    last_ts      timestamptz,
    host         text,
    imported_at  timestamptz NOT NULL DEFAULT now()
);

-- How far the worker is behind rsyslog (for the WUI and monitoring).
CREATE VIEW ingest_lag AS
    SELECT s.name,
           s.cursor,
           n.id AS newest_id,
           COALESCE((SELECT count(*) FROM raw_events r
                     WHERE r.import_id IS NULL AND r.id > s.cursor), 0) AS lag_lines,
           n.received_at AS newest_received_at,
           c.received_at AS cursor_received_at,
           GREATEST(n.received_at - COALESCE(c.received_at, n.received_at),
                    interval '0') AS lag,
           s.updated_at
    FROM ingest_state s
    LEFT JOIN LATERAL (SELECT id, received_at FROM raw_events WHERE import_id IS NULL
                       ORDER BY id DESC LIMIT 1) n ON true
    LEFT JOIN LATERAL (SELECT received_at FROM raw_events WHERE id = s.cursor LIMIT 1) c ON true;

CREATE TABLE users (
    id              bigserial PRIMARY KEY,
    username        text NOT NULL UNIQUE,
    email           text,
    password_hash   text,            -- argon2id (argon2-cffi encoded string)
    is_admin        boolean NOT NULL DEFAULT false,
    active          boolean NOT NULL DEFAULT true,
    failed_logins   integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz,
    last_login      timestamptz
);

CREATE TABLE groups (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text
);

CREATE TABLE group_members (
    group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- What a group may see: mail through these servers (none = all servers) for these
-- domains and single addresses.
CREATE TABLE group_servers (
    group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    server   text NOT NULL,
    PRIMARY KEY (group_id, server)
);
CREATE TABLE group_domains (
    group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    domain   text NOT NULL,
    PRIMARY KEY (group_id, domain)
);
CREATE TABLE group_addresses (
    group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    address  text NOT NULL,
    PRIMARY KEY (group_id, address)
);

-- API tokens: only a SHA-256 of the secret is stored; prefix identifies it in lists.
CREATE TABLE api_tokens (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL,
    prefix      text NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    last_used   timestamptz,
    revoked     boolean NOT NULL DEFAULT false
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE search_history (
    id       bigserial PRIMARY KEY,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT now(),
    query    jsonb NOT NULL,
    results  integer
);
CREATE INDEX search_history_user_at ON search_history (user_id, at DESC);

CREATE TABLE saved_searches (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL,
    query       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name)
);

-- Retention: whole raw day partitions, then search rows and samples by time. Owned by
-- else_owner (only the owner may drop partitions); the worker role may run it.
CREATE FUNCTION else_prune(p_before timestamptz) RETURNS jsonb
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
    DELETE FROM search_history WHERE at < p_before;
    RETURN jsonb_build_object('raw_partitions', v_parts, 'emails', v_emails,
                              'rejects', v_rejects, 'snmp_samples', v_samples,
                              'raw_rejects', v_raw_rejects);
END $$;
"""
