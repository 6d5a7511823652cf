"""One measurement per rule kind: subject -> value, from what ELSE already stores.

SNMP samples and the servers table (the poller), the raw lines and the heartbeat counts
(:mod:`else_core.forwarding`), the delivery attempts and rejects (the store), the
``ingest_lag`` view, and DNS blocklists (:mod:`.dnsbl`). A measurement that cannot be made
raises: the caller then leaves the rule's alerts as they are rather than resolve them on
missing data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from else_core.alerts import dnsbl
from else_core.alerts.rules import Rule
from else_core.config import Config
from else_core.errors import ElseError
from else_core.forwarding import server_gaps

#: How far back the newest line of a host is looked for on the very first evaluation.
FIRST_LOOK_BACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Reading:
    """One subject's value and the sentence an administrator reads about it."""

    value: float
    summary: str


@dataclass(frozen=True, slots=True)
class Context:
    """What every measurement may need besides the rule."""

    conn: psycopg.Connection
    config: Config
    now: datetime
    hosts: list[str] | None  # the rule's scope; None: every server


Readings = dict[str, Reading]


def scope_hosts(conn: psycopg.Connection, rule: Rule) -> list[str] | None:
    """The server names a rule covers (None: all). A group without servers covers all."""
    if rule.scope_kind == "server":
        return [str(rule.scope_value)]
    if rule.scope_kind == "group":
        row = conn.execute("SELECT id FROM groups WHERE name = %s", (rule.scope_value,)).fetchone()
        if row is None:
            raise ElseError(f"rule {rule.name!r}: no group named {rule.scope_value!r}")
        got = conn.execute(
            "SELECT server FROM group_servers WHERE group_id = %s ORDER BY server", (row[0],)
        ).fetchall()
        return [r[0] for r in got] or None
    return None


def known_servers(ctx: Context) -> list[str]:
    """Configured and polled servers in the rule's scope."""
    seen = {r[0] for r in ctx.conn.execute("SELECT name FROM servers").fetchall()}
    every = sorted(seen | {s.name for s in ctx.config.servers})
    return [h for h in every if ctx.hosts is None or h in ctx.hosts]


def _latest_samples(ctx: Context, rule: Rule) -> list[tuple[str, datetime, dict[str, Any]]]:
    rows = ctx.conn.execute(
        "SELECT DISTINCT ON (server) server, at, metrics FROM snmp_samples"
        " WHERE ok AND at >= %s AND (%s::text[] IS NULL OR server = ANY(%s::text[]))"
        " ORDER BY server, at DESC",
        (ctx.now - timedelta(minutes=rule.window_minutes), ctx.hosts, ctx.hosts),
    ).fetchall()
    return [(r[0], r[1], r[2] or {}) for r in rows]


def queue_size(ctx: Context, rule: Rule) -> Readings:
    out = {}
    for server, at, metrics in _latest_samples(ctx, rule):
        queues = metrics.get("queues") or {}
        total = queues.get("total")
        if total is None:
            total = sum(v for k, v in queues.items() if k != "total" and isinstance(v, int))
        out[server] = Reading(
            float(total),
            f"{total} messages in the queues of {server} (deferred {queues.get('deferred')},"
            f" active {queues.get('active')}, hold {queues.get('hold')}) at {at:%H:%M:%S} UTC",
        )
    return out


def oldest_deferred(ctx: Context, rule: Rule) -> Readings:
    out = {}
    for server, at, metrics in _latest_samples(ctx, rule):
        age = metrics.get("oldest_deferred_age") or 0
        out[server] = Reading(
            float(age),
            f"the oldest deferred message on {server} waits since {age // 60} minutes"
            f" (at {at:%H:%M:%S} UTC)",
        )
    return out


def snmp_down(ctx: Context, rule: Rule) -> Readings:
    """Polls not answered in a row, and polls not made at all.

    The poller records each poll on the server's row. If the poller itself stops, the rows
    freeze, and a frozen row with zero failures would read as healthy. So a configured
    server whose last poll is older than the window counts every poll interval since then
    as a missed poll. Only servers polled at least once count: a fresh install whose poller
    has not started yet is not a PFX down. Servers removed from else.toml, or switched off
    (``snmp_enabled`` false), are not watched.
    """
    cutoff = ctx.now - timedelta(minutes=rule.window_minutes)
    rows = ctx.conn.execute(
        "SELECT name, consecutive_failures, last_ok, last_error, last_poll FROM servers"
        " WHERE snmp_enabled AND last_poll IS NOT NULL"
        " AND (%s::text[] IS NULL OR name = ANY(%s::text[]))",
        (ctx.hosts, ctx.hosts),
    ).fetchall()
    configured = {s.name for s in ctx.config.servers}
    interval = max(float(ctx.config.snmp.poll_interval), 1.0)
    out = {}
    for name, failures, last_ok, error, last_poll in rows:
        since = f"last answer {last_ok:%Y-%m-%d %H:%M:%S} UTC" if last_ok else "never answered"
        if last_poll >= cutoff:
            out[name] = Reading(
                float(failures),
                f"{name} did not answer {failures} SNMP polls in a row ({since}): {error or 'ok'}",
            )
        elif name in configured:
            missed = int((ctx.now - last_poll).total_seconds() // interval)
            out[name] = Reading(
                float(failures + missed),
                f"{name} was not polled since {last_poll:%Y-%m-%d %H:%M:%S} UTC ({missed} polls"
                f" missed, {since}): is else-poller running on the ELSE host?",
            )
    return out


def refresh_line_seen(conn: psycopg.Connection, now: datetime) -> None:
    """Bring ``alert_line_seen`` up to date with the live lines stored since the last call.

    It reads only ids above the saved cursor (the raw_events id index), so it costs what
    arrived since the previous evaluation, not what the day holds."""
    row = conn.execute("SELECT last_id FROM alert_cursor WHERE name = 'line_seen'").fetchone()
    if row is None:
        start = conn.execute(
            "SELECT COALESCE(min(id) - 1, 0) FROM raw_events"
            " WHERE import_id IS NULL AND received_at >= %s",
            (now - FIRST_LOOK_BACK,),
        ).fetchone()
        last_id = int(start[0]) if start else 0
    else:
        last_id = int(row[0])
    got = conn.execute(
        "SELECT host, max(received_at), max(id) FROM raw_events"
        " WHERE import_id IS NULL AND id > %s GROUP BY host",
        (last_id,),
    ).fetchall()
    for host, at, _ in got:
        conn.execute(
            "INSERT INTO alert_line_seen (host, last_at) VALUES (%s, %s) ON CONFLICT (host)"
            " DO UPDATE SET last_at = GREATEST(alert_line_seen.last_at, EXCLUDED.last_at)",
            (host, at),
        )
    newest = max([int(r[2]) for r in got], default=last_id)
    conn.execute(
        "INSERT INTO alert_cursor (name, last_id) VALUES ('line_seen', %s)"
        " ON CONFLICT (name) DO UPDATE SET last_id = EXCLUDED.last_id",
        (newest,),
    )


def log_silence(ctx: Context, rule: Rule) -> Readings:
    refresh_line_seen(ctx.conn, ctx.now)
    seen: dict[str, datetime] = dict(
        ctx.conn.execute("SELECT host, last_at FROM alert_line_seen").fetchall()
    )
    out = {}
    for host in known_servers(ctx):
        last = seen.get(host)
        if last is None:
            # A server never heard from is silent since ELSE began to watch it (a fresh
            # install's first round must not alert before the first line had time to come).
            ctx.conn.execute(
                "INSERT INTO alert_line_seen (host, last_at) VALUES (%s, %s)"
                " ON CONFLICT (host) DO NOTHING",
                (host, ctx.now),
            )
            last = ctx.now
        minutes = max(0.0, (ctx.now - last).total_seconds() / 60)
        out[host] = Reading(
            round(minutes, 1),
            f"no log line from {host} for {minutes:.0f} minutes"
            f" (last {last:%Y-%m-%d %H:%M:%S} UTC)",
        )
    return out


def log_gap(ctx: Context, rule: Rule) -> Readings:
    since = ctx.now - timedelta(minutes=rule.window_minutes)
    out = {}
    for g in server_gaps(ctx.conn, since, ctx.now, ctx.hosts or ()):
        lost = g.missing + g.journald_warnings
        text = f"{g.host}: sent {g.sent} lines, ELSE has {g.received}, missing {g.missing}"
        if g.journald_warnings:
            text += f"; journald dropped lines: {g.last_journald_warning}"
        out[g.host] = Reading(float(lost), text)
    return out


def _rate(cur_bad: int, cur_all: int, base_bad: int, base_all: int) -> tuple[float, float]:
    now = 100.0 * cur_bad / cur_all if cur_all else 0.0
    base = 100.0 * base_bad / base_all if base_all else 0.0
    return now, base


def _rate_readings(rule: Rule, word: str, rows: list[tuple[Any, ...]]) -> Readings:
    out = {}
    for host, cur_bad, cur_all, base_bad, base_all in rows:
        if cur_all < rule.param("min_volume"):
            continue
        now, base = _rate(cur_bad, cur_all, base_bad, base_all)
        out[host] = Reading(
            round(now - base, 2),
            f"{host}: {now:.1f}% {word} in the last {rule.window_minutes} min"
            f" ({cur_bad} of {cur_all}), baseline {base:.1f}%",
        )
    return out


def _delivery_rate(ctx: Context, rule: Rule, status: str, word: str) -> Readings:
    start = ctx.now - timedelta(minutes=rule.window_minutes)
    base = start - timedelta(hours=rule.param("baseline_hours"))
    rows = ctx.conn.execute(
        "SELECT host, count(*) FILTER (WHERE at >= %s AND status = %s),"
        " count(*) FILTER (WHERE at >= %s),"
        " count(*) FILTER (WHERE at < %s AND status = %s), count(*) FILTER (WHERE at < %s)"
        " FROM deliveries WHERE at >= %s AND at <= %s AND host IS NOT NULL"
        " AND (%s::text[] IS NULL OR host = ANY(%s::text[])) GROUP BY host ORDER BY host",
        (start, status, start, start, status, start, base, ctx.now, ctx.hosts, ctx.hosts),
    ).fetchall()
    return _rate_readings(rule, word, rows)


def bounce_rate(ctx: Context, rule: Rule) -> Readings:
    return _delivery_rate(ctx, rule, "bounced", "of delivery attempts bounced")


def deferral_rate(ctx: Context, rule: Rule) -> Readings:
    return _delivery_rate(ctx, rule, "deferred", "of delivery attempts deferred")


def reject_rate(ctx: Context, rule: Rule) -> Readings:
    start = ctx.now - timedelta(minutes=rule.window_minutes)
    base = start - timedelta(hours=rule.param("baseline_hours"))
    rows = ctx.conn.execute(
        "WITH r AS (SELECT host, count(*) FILTER (WHERE at >= %(s)s) AS c,"
        "   count(*) FILTER (WHERE at < %(s)s) AS b FROM rejects"
        "   WHERE at >= %(b)s AND at <= %(n)s AND host IS NOT NULL GROUP BY host),"
        " e AS (SELECT host, count(*) FILTER (WHERE first_seen >= %(s)s) AS c,"
        "   count(*) FILTER (WHERE first_seen < %(s)s) AS b FROM emails"
        "   WHERE first_seen >= %(b)s AND first_seen <= %(n)s GROUP BY host)"
        " SELECT COALESCE(r.host, e.host) AS h, COALESCE(r.c, 0),"
        "   COALESCE(r.c, 0) + COALESCE(e.c, 0), COALESCE(r.b, 0),"
        "   COALESCE(r.b, 0) + COALESCE(e.b, 0)"
        " FROM r FULL JOIN e ON r.host = e.host"
        " WHERE %(h)s::text[] IS NULL OR COALESCE(r.host, e.host) = ANY(%(h)s::text[])"
        " ORDER BY h",
        {"s": start, "b": base, "n": ctx.now, "h": ctx.hosts},
    ).fetchall()
    return _rate_readings(rule, "of incoming mail rejected", rows)


def remote_refusing(ctx: Context, rule: Rule) -> Readings:
    start = ctx.now - timedelta(minutes=rule.window_minutes)
    by = rule.param("by")
    key = sql.SQL(
        "lower(split_part(recipient, '@', 2))"
        if by == "domain"
        else "lower(split_part(relay, '[', 1))"
    )
    query = sql.SQL(
        "SELECT {key} AS k, count(*) FILTER (WHERE status IN ('deferred', 'bounced')),"
        " count(*) FILTER (WHERE status = 'deferred'), count(*) FILTER (WHERE status = 'bounced'),"
        " count(*) FROM deliveries WHERE at >= %s AND at <= %s"
        " AND (%s::text[] IS NULL OR host = ANY(%s::text[]))"
        " GROUP BY 1 HAVING count(*) >= %s ORDER BY 1"
    ).format(key=key)
    rows = ctx.conn.execute(
        query, (start, ctx.now, ctx.hosts, ctx.hosts, rule.param("min_volume"))
    ).fetchall()
    out = {}
    for subject, bad, deferred, bounced, total in rows:
        if not subject or subject == "none":
            continue
        share = 100.0 * bad / total
        out[subject] = Reading(
            round(share, 1),
            f"{subject} refused or deferred {share:.0f}% of {total} attempts in the last"
            f" {rule.window_minutes} min ({deferred} deferred, {bounced} bounced)",
        )
    return out


def ingest_lag(ctx: Context, rule: Rule) -> Readings:
    rows = ctx.conn.execute(
        "SELECT name, COALESCE(extract(epoch FROM lag), 0), lag_lines FROM ingest_lag"
    ).fetchall()
    return {
        str(name): Reading(
            float(lag), f"ingest worker {name} is {float(lag):.0f} s ({lines} lines) behind"
        )
        for name, lag, lines in rows
    }


def dnsbl_listing(ctx: Context, rule: Rule) -> Readings:
    settings = ctx.config.alerts
    host, port = dnsbl.split_resolver(settings.dns_resolver or dnsbl.default_resolver())
    addresses = list(rule.param("addresses")) or [
        s.address for s in ctx.config.servers if ctx.hosts is None or s.name in ctx.hosts
    ]
    subjects = [*addresses, *rule.param("domains")]
    out = {}
    for subject in subjects:
        listed = []
        for zone in rule.param("zones"):
            found = dnsbl.lookup(subject, zone, host, settings.dns_timeout, port)
            if found.listed:
                listed.append(f"{zone} ({', '.join(found.answers)})")
        text = (
            f"{subject} is listed on " + ", ".join(listed) if listed else f"{subject}: not listed"
        )
        out[subject] = Reading(float(len(listed)), text)
    return out


MEASURES: dict[str, Callable[[Context, Rule], Readings]] = {
    "queue_size": queue_size,
    "oldest_deferred": oldest_deferred,
    "snmp_down": snmp_down,
    "log_silence": log_silence,
    "log_gap": log_gap,
    "bounce_rate": bounce_rate,
    "deferral_rate": deferral_rate,
    "reject_rate": reject_rate,
    "remote_refusing": remote_refusing,
    "ingest_lag": ingest_lag,
    "dnsbl": dnsbl_listing,
}
