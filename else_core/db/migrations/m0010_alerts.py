"""Alerting (issue 18): rules, the alerts they raise, their history and their deliveries.

An alert is one (rule, subject) pair in trouble: the subject names what is wrong (a server,
a remote domain, an address on a blocklist). At most one alert per pair is not resolved
(the partial unique index), so a rule that keeps firing updates its alert instead of
raising new ones. Every state change is an ``alert_events`` row (who acknowledged, when
it resolved); every message owed to an administrator is an ``alert_deliveries`` row
written in the same transaction as the event, so a relay or webhook that is down delays
the message and never loses it.

The default rules make a fresh install alert on queue growth, a PFX that stops answering
SNMP, and log lines that stop coming or go missing, with no set-up.
"""

SQL = r"""
CREATE TABLE alert_rules (
    id                bigserial PRIMARY KEY,
    name              text NOT NULL UNIQUE CHECK (name <> ''),
    kind              text NOT NULL,
    scope_kind        text NOT NULL DEFAULT 'all' CHECK (scope_kind IN ('all', 'server', 'group')),
    scope_value       text,
    threshold         double precision NOT NULL,
    resolve_threshold double precision,
    window_minutes    integer NOT NULL DEFAULT 15 CHECK (window_minutes > 0),
    clear_after       integer NOT NULL DEFAULT 2 CHECK (clear_after > 0),
    repeat_minutes    integer NOT NULL DEFAULT 0 CHECK (repeat_minutes >= 0),
    params            jsonb NOT NULL DEFAULT '{}',
    enabled           boolean NOT NULL DEFAULT true,
    last_evaluated_at timestamptz,
    last_error        text,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    updated_by        text,
    CHECK ((scope_kind = 'all') = (scope_value IS NULL))
);

CREATE TABLE alerts (
    id               bigserial PRIMARY KEY,
    rule_id          bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    subject          text NOT NULL,
    state            text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    value            double precision,
    summary          text NOT NULL DEFAULT '',
    opened_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    resolved_at      timestamptz,
    clear_count      integer NOT NULL DEFAULT 0,
    last_notified_at timestamptz
);
CREATE UNIQUE INDEX alerts_active ON alerts (rule_id, subject) WHERE state <> 'resolved';
CREATE INDEX alerts_opened_at ON alerts (opened_at);

CREATE TABLE alert_events (
    id       bigserial PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT now(),
    kind     text NOT NULL CHECK (kind IN ('opened', 'acknowledged', 'reminder', 'resolved')),
    actor    text,
    value    double precision,
    detail   text
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, at);

CREATE TABLE alert_deliveries (
    id              bigserial PRIMARY KEY,
    event_id        bigint NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    target          text NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz
);
CREATE INDEX alert_deliveries_pending ON alert_deliveries (next_attempt_at) WHERE state = 'pending';

-- The newest live line of each host, kept up to date from raw_events ids the evaluator has
-- not read yet (an index range), so "no line for N minutes" never scans a day partition.
CREATE TABLE alert_line_seen (
    host    text PRIMARY KEY,
    last_at timestamptz NOT NULL
);
CREATE TABLE alert_cursor (
    name    text PRIMARY KEY,
    last_id bigint NOT NULL
);

INSERT INTO alert_rules (name, kind, threshold, resolve_threshold, window_minutes, clear_after)
VALUES ('queue growth', 'queue_size', 1000, 500, 15, 2),
       ('oldest deferred', 'oldest_deferred', 4 * 3600, 2 * 3600, 15, 2),
       ('PFX down', 'snmp_down', 2, 0, 15, 1),
       ('log silence', 'log_silence', 10, 2, 60, 1),
       ('log lines lost', 'log_gap', 0, 0, 60, 2),
       ('ingest lag', 'ingest_lag', 600, 60, 15, 2);
"""
