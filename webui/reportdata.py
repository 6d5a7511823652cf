"""The tables behind the Reports page (and the extra sections of ``/api/v1/stats``).

``else_core.stats`` computes the CLI's statistics in UTC; the Reports page needs more:
buckets in the user's time zone, ranking by size, deferral and bounce reasons and the
direction. The access-control clauses are the search library's own (imported, so there
is one definition of "who may see what"), compiled into every query here; period,
server and group only ever narrow the user's scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from else_core.search import Scope, _scope_email, _scope_reject

TOP_N = 10

#: name -> (title, column headers); the order of the Reports page.
REPORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "volume": ("Volume by status", ("period", "status", "recipients")),
    "direction": ("Direction", ("direction", "e-mails", "bytes")),
    "senders": ("Top senders", ("sender", "e-mails", "bytes")),
    "recipients": ("Top recipients", ("recipient", "e-mails", "bytes")),
    "sender_domains": ("Top sender domains", ("domain", "e-mails", "bytes")),
    "recipient_domains": ("Top recipient domains", ("domain", "e-mails", "bytes")),
    "rejects": ("Reject reasons", ("code", "dsn", "reason", "count")),
    "deferrals": ("Deferral reasons", ("dsn", "reason", "count")),
    "bounces": ("Bounce reasons", ("dsn", "reason", "count")),
}

# Addresses, IPs and host names in brackets vary per message; without them reasons group.
_NORMALISE = (
    r"regexp_replace(regexp_replace({0}, '<[^>]*>', '<...>', 'g'), '\[[^]]*\]', '[...]', 'g')"
)
_DIRECTION = (
    "CASE WHEN (SELECT role FROM servers s WHERE s.name = e.host)"
    " IN ('incoming', 'outgoing', 'relay', 'filter')"
    " THEN (SELECT role FROM servers s WHERE s.name = e.host) ELSE e.direction END"
)


@dataclass(slots=True)
class Period:
    since: datetime
    until: datetime
    tz: str = "UTC"
    server: str | None = None
    scopes: list[Scope | None] = field(default_factory=list)

    @property
    def bucket(self) -> str:
        return "hour" if self.until - self.since <= timedelta(days=2) else "day"


MAX_BUCKETS = 400


def bucket_labels(p: Period) -> list[str]:
    """Every bucket label of the period (as :func:`volume` writes them), or none when
    there would be too many to draw (then only buckets with mail are shown)."""
    tz = ZoneInfo(p.tz)
    step = timedelta(hours=1) if p.bucket == "hour" else timedelta(days=1)
    t = p.since.astimezone(tz).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    if p.bucket == "day":
        t = t.replace(hour=0)
    end = p.until.astimezone(tz).replace(tzinfo=None)
    if (end - t) / step > MAX_BUCKETS:
        return []
    out = []
    while t < end:
        out.append(t.strftime("%Y-%m-%d %H:00"))
        t += step
    return out


def _email_where(p: Period, params: list[Any]) -> str:
    where = ["e.first_seen >= %s", "e.first_seen < %s"]
    params.extend([p.since, p.until])
    for scope in p.scopes:
        where.extend(_scope_email(scope, params))
    if p.server:
        where.append("e.host = %s")
        params.append(p.server)
    return " AND ".join(where)


def _reject_where(p: Period, params: list[Any]) -> str:
    where = ["j.at >= %s", "j.at < %s"]
    params.extend([p.since, p.until])
    for scope in p.scopes:
        where.extend(_scope_reject(scope, params))
    if p.server:
        where.append("j.host = %s")
        params.append(p.server)
    return " AND ".join(where)


def volume(conn: psycopg.Connection, p: Period) -> list[tuple[Any, ...]]:
    params: list[Any] = [p.bucket, p.tz]
    where = _email_where(p, params)
    return conn.execute(
        "SELECT to_char(date_trunc(%s, e.first_seen AT TIME ZONE %s),"
        " 'YYYY-MM-DD HH24:00') AS b, r.status, count(*) FROM emails e"
        f" JOIN email_recipients r ON r.email_id = e.id WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",
        params,
    ).fetchall()


def direction(conn: psycopg.Connection, p: Period) -> list[tuple[Any, ...]]:
    params: list[Any] = []
    where = _email_where(p, params)
    return conn.execute(
        f"SELECT {_DIRECTION} AS d, count(*), COALESCE(sum(e.size), 0)::bigint FROM emails e"
        f" WHERE {where} GROUP BY 1 ORDER BY 2 DESC",
        params,
    ).fetchall()


def _top(conn: psycopg.Connection, p: Period, key: str, join: str, order: str) -> list[tuple]:
    params: list[Any] = []
    where = _email_where(p, params)
    rank = "3" if order == "size" else "2"
    return conn.execute(
        f"SELECT {key} AS k, count(*), COALESCE(sum(e.size), 0)::bigint FROM emails e {join}"
        f" WHERE {where} GROUP BY 1 ORDER BY {rank} DESC, 1 LIMIT %s",
        [*params, TOP_N],
    ).fetchall()


def senders(conn: psycopg.Connection, p: Period, order: str = "count") -> list[tuple]:
    return _top(conn, p, "COALESCE(NULLIF(lower(e.sender), ''), '<>')", "", order)


def sender_domains(conn: psycopg.Connection, p: Period, order: str = "count") -> list[tuple]:
    return _top(conn, p, "COALESCE(e.sender_domain, '')", "", order)


def recipients(conn: psycopg.Connection, p: Period, order: str = "count") -> list[tuple]:
    join = "JOIN email_recipients r ON r.email_id = e.id"
    return _top(conn, p, "lower(r.address)", join, order)


def recipient_domains(conn: psycopg.Connection, p: Period, order: str = "count") -> list[tuple]:
    join = "JOIN email_recipients r ON r.email_id = e.id"
    return _top(conn, p, "COALESCE(r.domain, '')", join, order)


def rejects(conn: psycopg.Connection, p: Period) -> list[tuple]:
    params: list[Any] = []
    where = _reject_where(p, params)
    reason = _NORMALISE.format("COALESCE(j.reason, j.action)")
    return conn.execute(
        f"SELECT COALESCE(j.code, ''), COALESCE(j.dsn, ''), {reason}, count(*) FROM rejects j"
        f" WHERE {where} GROUP BY 1, 2, 3 ORDER BY 4 DESC, 3 LIMIT %s",
        [*params, TOP_N],
    ).fetchall()


def deferrals(conn: psycopg.Connection, p: Period) -> list[tuple]:
    params: list[Any] = []
    where = _email_where(p, params)
    reason = _NORMALISE.format("COALESCE(d.response, '')")
    return conn.execute(
        f"SELECT COALESCE(d.dsn, ''), {reason}, count(*) FROM emails e"
        " JOIN deliveries d ON d.email_id = e.id AND d.status = 'deferred'"
        f" WHERE {where} GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT %s",
        [*params, TOP_N],
    ).fetchall()


def bounces(conn: psycopg.Connection, p: Period) -> list[tuple]:
    params: list[Any] = []
    where = _email_where(p, params)
    reason = _NORMALISE.format("COALESCE(r.response, '')")
    return conn.execute(
        f"SELECT COALESCE(r.dsn, ''), {reason}, count(*) FROM emails e"
        " JOIN email_recipients r ON r.email_id = e.id AND r.status IN ('bounced', 'expired')"
        f" WHERE {where} GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT %s",
        [*params, TOP_N],
    ).fetchall()


def run(conn: psycopg.Connection, name: str, p: Period, order: str = "count") -> list[tuple]:
    if name not in REPORTS:
        raise KeyError(name)
    fn = globals()[name]
    if name in ("senders", "recipients", "sender_domains", "recipient_domains"):
        return fn(conn, p, order)
    return fn(conn, p)


def totals(conn: psycopg.Connection, p: Period) -> dict[str, int]:
    params: list[Any] = []
    where = _email_where(p, params)
    row = conn.execute(
        "SELECT count(*), COALESCE(sum(e.size), 0)::bigint, COALESCE(sum(e.nrcpt), 0)::bigint"
        f" FROM emails e WHERE {where}",
        params,
    ).fetchone()
    rparams: list[Any] = []
    rwhere = _reject_where(p, rparams)
    rej = conn.execute(f"SELECT count(*) FROM rejects j WHERE {rwhere}", rparams).fetchone()
    assert row is not None and rej is not None
    return {"emails": row[0], "bytes": row[1], "recipients": row[2], "rejects": rej[0]}
