"""Mail-flow statistics from the database, for any period, server set or user scope.

The same counting rules as the correlator's e-mails: one e-mail per message across
content-filter hops and forwards, each recipient counted once with its final status.
All queries run in one read-only snapshot, so the numbers of a report agree with each
other while new mail keeps arriving.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, LiteralString
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from else_core.model import STATUSES
from else_core.scope import (
    Cond,
    Scope,
    Statement,
    cond,
    email_conditions,
    reject_conditions,
    time_range,
    where,
)

BUCKETS = ("hour", "day")


@dataclass(slots=True)
class StatsQuery:
    since: datetime | None = None
    until: datetime | None = None
    hosts: tuple[str, ...] = ()
    scope: Scope | None = None
    bucket: str | None = None  # hour | day; None: hour up to 3 days, else day
    top: int = 10
    rollups: bool = True  # use the trigger-kept rollups when the query allows it
    by_role: bool = False  # add traffic by server role and by way (a scan: opt-in)


def _midnight(ts: datetime | None) -> bool:
    if ts is None:
        return True
    u = ts.astimezone(UTC)
    return (u.hour, u.minute, u.second, u.microsecond) == (0, 0, 0, 0)


def can_use_rollups(q: StatsQuery) -> bool:
    """Rollups are per UTC day and per server (or all): no user scope, whole days."""
    unscoped = q.scope is None or q.scope.unrestricted
    return q.rollups and unscoped and _midnight(q.since) and _midnight(q.until)


def _utc_day(at: datetime | None) -> date | None:
    """The UTC day a bound falls on: the rollups' day column is a UTC date."""
    return None if at is None else at.astimezone(UTC).date()


def _where(q: StatsQuery, alias: str = "e") -> Cond:
    """The query's scope, period and servers over ``emails e`` or ``rejects j``."""
    if alias == "e":
        conds = email_conditions(q.scope)
        conds += time_range(sql.SQL("e.first_seen"), q.since, q.until)
    else:
        conds = reject_conditions(q.scope)
        conds += time_range(sql.SQL("j.at"), q.since, q.until)
    if q.hosts:
        conds.append((sql.SQL("{}.host = ANY(%s)").format(sql.Identifier(alias)), [list(q.hosts)]))
    return where(conds)


def compute(conn: psycopg.Connection, q: StatsQuery) -> dict[str, Any]:
    bucket = q.bucket
    if bucket is None:
        span = q.until - q.since if q.since is not None and q.until is not None else None
        bucket = "hour" if span is not None and span <= timedelta(days=3) else "day"
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}")
    top = max(1, int(q.top))
    out: dict[str, Any] = {
        "period": {
            "since": q.since.isoformat() if q.since else None,
            "until": q.until.isoformat() if q.until else None,
            "hosts": list(q.hosts),
        },
    }
    prev = conn.autocommit
    conn.autocommit = False
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            conn.execute("SET LOCAL TIME ZONE 'UTC'")
            if can_use_rollups(q):
                _fill_rollups(conn, q, bucket, top, out)
            else:
                _fill(conn, q, bucket, top, out)
            if q.by_role:
                _fill_roles(conn, q, out)
            out["source"] = "rollups" if can_use_rollups(q) else "scan"
    finally:
        conn.autocommit = prev
    return out


def _recipients_from(q: StatsQuery) -> Cond:
    """FROM + WHERE over recipients: without a scope no join is needed (email_recipients
    carries the e-mail's first_seen and host); with one, the scope needs the e-mail."""
    if q.scope is not None and not q.scope.unrestricted:
        w, params = _where(q)
        return (
            sql.SQL("FROM emails e JOIN email_recipients r ON r.email_id = e.id WHERE {}").format(
                w
            ),
            params,
        )
    conds = time_range(sql.SQL("r.first_seen"), q.since, q.until)
    if q.hosts:
        conds.append(cond("r.email_host = ANY(%s)", list(q.hosts)))
    w, params = where(conds)
    return sql.SQL("FROM email_recipients r WHERE {}").format(w), params


def _fill(
    conn: psycopg.Connection, q: StatsQuery, bucket: str, top: int, out: dict[str, Any]
) -> None:
    w, p = _where(q)
    rows = conn.execute(
        sql.SQL(
            "SELECT e.status, count(*), COALESCE(sum(e.size), 0) FROM emails e WHERE {} GROUP BY 1"
        ).format(w),
        p,
    ).fetchall()
    out["emails"] = sum(r[1] for r in rows)
    out["bytes"] = int(sum(r[2] for r in rows))
    out["emails_by_status"] = _ordered({r[0]: r[1] for r in rows})

    src, p = _recipients_from(q)
    rows = conn.execute(
        sql.SQL(
            "SELECT date_trunc(%s, r.first_seen) AS t, r.status, count(*) {}"
            " GROUP BY 1, 2 ORDER BY 1"
        ).format(src),
        [bucket, *p],
    ).fetchall()
    series: dict[datetime, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for t, status, n in rows:
        series.setdefault(t, {})[status] = n
        totals[status] = totals.get(status, 0) + n
    out["recipients"] = sum(totals.values())
    out["recipients_by_status"] = _ordered(totals)
    out["series"] = {
        "bucket": bucket,
        "rows": [{"t": t.isoformat(), **_ordered(c)} for t, c in series.items()],
    }

    def top_emails(expr: sql.Composable) -> list[dict[str, Any]]:
        w2, p2 = _where(q)
        res = conn.execute(
            sql.SQL(
                "SELECT {expr} AS k, count(*), COALESCE(sum(e.size), 0) FROM emails e"
                " WHERE {w} AND {expr} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s"
            ).format(expr=expr, w=w2),
            [*p2, top],
        ).fetchall()
        return [{"key": r[0], "emails": r[1], "bytes": int(r[2])} for r in res]

    def top_recipients(expr: sql.Composable) -> list[dict[str, Any]]:
        src2, p2 = _recipients_from(q)
        res = conn.execute(
            sql.SQL(
                "SELECT {expr} AS k, count(*) {src} AND {expr} IS NOT NULL"
                " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s"
            ).format(expr=expr, src=src2),
            [*p2, top],
        ).fetchall()
        return [{"key": r[0], "emails": r[1]} for r in res]

    out["top_senders"] = top_emails(sql.SQL("lower(e.sender)"))
    out["top_sender_domains"] = top_emails(sql.SQL("e.sender_domain"))
    out["top_recipients"] = top_recipients(sql.SQL("lower(r.address)"))
    out["top_recipient_domains"] = top_recipients(sql.SQL("r.domain"))

    w, p = _where(q, "j")
    rows = conn.execute(
        sql.SQL(
            "SELECT j.action, count(*) FROM rejects j WHERE {} GROUP BY 1 ORDER BY 2 DESC"
        ).format(w),
        p,
    ).fetchall()
    out["rejects"] = sum(r[1] for r in rows)
    out["rejects_by_action"] = {r[0]: r[1] for r in rows}
    rows = conn.execute(
        sql.SQL(
            "SELECT COALESCE(j.code, '') || ' ' || left(COALESCE(j.reason, ''), 120), count(*)"
            " FROM rejects j WHERE {} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s"
        ).format(w),
        [*p, top],
    ).fetchall()
    out["top_reject_reasons"] = [{"key": r[0].strip(), "count": r[1]} for r in rows]
    rows = conn.execute(
        sql.SQL(
            "SELECT COALESCE(j.client_ip, ''), count(*) FROM rejects j WHERE {}"
            " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s"
        ).format(w),
        [*p, top],
    ).fetchall()
    out["top_rejected_clients"] = [{"key": r[0], "count": r[1]} for r in rows]


def _fill_roles(conn: psycopg.Connection, q: StatsQuery, out: dict[str, Any]) -> None:
    """Traffic by server role and by way (the roles an e-mail crossed), from the e-mails
    themselves: the rollups have no role (a server's role may change; its mail may not)."""
    w, p = _where(q)
    for key, stmt in (("by_role", ROLES_SQL), ("ways", WAY_SQL)):
        rows = conn.execute(sql.SQL(stmt).format(where=w), p).fetchall()
        out[key] = [{"key": r[0], "emails": r[1], "bytes": int(r[2])} for r in rows]


def _fill_rollups(
    conn: psycopg.Connection, q: StatsQuery, bucket: str, top: int, out: dict[str, Any]
) -> None:
    """The same report from stats_hourly / stats_daily (see migration 0004)."""
    hosts = list(q.hosts) or ["*"]

    def hourly(kind: str) -> list[tuple[Any, ...]]:
        w, params = where(
            [
                cond("kind = %s", kind),
                cond("host = ANY(%s)", hosts),
                *time_range(sql.SQL("hour"), q.since, q.until),
            ]
        )
        return conn.execute(
            sql.SQL(
                "SELECT date_trunc(%s, hour), key, sum(n), sum(bytes) FROM stats_hourly"
                " WHERE {} GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1"
            ).format(w),
            [bucket, *params],
        ).fetchall()

    def daily(kind: str) -> list[tuple[Any, ...]]:
        since, until = q.since, q.until
        single_day = (
            since is not None
            and until is not None
            and until - since == timedelta(days=1)
            and len(hosts) == 1
        )
        if single_day and since is not None:  # equality on (day, host, kind): index in n order
            return conn.execute(
                "SELECT key, n, bytes FROM stats_daily WHERE kind = %s AND day = %s"
                " AND host = %s AND n > 0 ORDER BY n DESC, key LIMIT %s",
                [kind, since.astimezone(UTC).date(), hosts[0], top],
            ).fetchall()
        w, params = where(
            [
                cond("kind = %s", kind),
                *time_range(sql.SQL("day"), _utc_day(q.since), _utc_day(q.until)),
                cond("host = ANY(%s)", hosts),
            ]
        )
        return conn.execute(
            sql.SQL(
                "SELECT key, sum(n), sum(bytes) FROM stats_daily WHERE {}"
                " GROUP BY key HAVING sum(n) > 0 ORDER BY 2 DESC, 1 LIMIT %s"
            ).format(w),
            [*params, top],
        ).fetchall()

    status: dict[str, int] = {}
    size = 0
    for _, key, n, b in hourly("email_status"):
        status[key] = status.get(key, 0) + int(n)
        size += int(b)
    out["emails"] = sum(status.values())
    out["bytes"] = size
    out["emails_by_status"] = _ordered(status)
    series: dict[datetime, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for t, key, n, _ in hourly("rcpt_status"):
        series.setdefault(t, {})[key] = int(n)
        totals[key] = totals.get(key, 0) + int(n)
    out["recipients"] = sum(totals.values())
    out["recipients_by_status"] = _ordered(totals)
    out["series"] = {
        "bucket": bucket,
        "rows": [{"t": t.isoformat(), **_ordered(c)} for t, c in series.items()],
    }
    for name, kind in (("top_senders", "sender"), ("top_sender_domains", "sender_domain")):
        out[name] = [{"key": k, "emails": int(n), "bytes": int(b)} for k, n, b in daily(kind)]
    for name, kind in (("top_recipients", "rcpt"), ("top_recipient_domains", "rcpt_domain")):
        out[name] = [{"key": k, "emails": int(n)} for k, n, _ in daily(kind)]
    actions = {k: int(n) for k, n, _ in daily_all(conn, q, hosts, "reject_action")}
    out["rejects"] = sum(actions.values())
    out["rejects_by_action"] = actions
    out["top_reject_reasons"] = [{"key": k, "count": int(n)} for k, n, _ in daily("reject_reason")]
    out["top_rejected_clients"] = [
        {"key": k, "count": int(n)} for k, n, _ in daily("reject_client")
    ]


def daily_all(
    conn: psycopg.Connection, q: StatsQuery, hosts: list[str], kind: str
) -> list[tuple[Any, ...]]:
    """Every key of a daily rollup kind (a short list: e.g. reject actions)."""
    w, params = where(
        [
            cond("kind = %s", kind),
            cond("host = ANY(%s)", hosts),
            *time_range(sql.SQL("day"), _utc_day(q.since), _utc_day(q.until)),
        ]
    )
    return conn.execute(
        sql.SQL(
            "SELECT key, sum(n), 0 FROM stats_daily WHERE {}"
            " GROUP BY key HAVING sum(n) > 0 ORDER BY 2 DESC, 1"
        ).format(w),
        params,
    ).fetchall()


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    """Statuses in the vocabulary's order (then anything else, e.g. ``mixed``)."""
    order = {s: i for i, s in enumerate(STATUSES)}
    return dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


# -- the Reports page's tables ----------------------------------------------------------------
# compute() above is the CLI's summary in UTC; the Reports page needs more: buckets in the
# user's time zone, ranking by size, deferral and bounce reasons and the direction. Each
# report is one entry of REPORTS (name -> Report), in the page's order; a new report is one
# more entry. Period, server and group only ever narrow the user's scope.

TOP_N = 10
MAX_BUCKETS = 400


@dataclass(slots=True)
class Period:
    """The Reports page's selection: a period in a zone, an optional server and the scopes
    (the user's, or one of their groups') that every report applies."""

    since: datetime
    until: datetime
    tz: str = "UTC"
    server: str | None = None
    scopes: list[Scope | None] = field(default_factory=list)

    @property
    def bucket(self) -> str:
        return "hour" if self.until - self.since <= timedelta(days=2) else "day"


def bucket_labels(p: Period) -> list[str]:
    """Every bucket label of the period (as the volume report writes them), or none when
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


def _period_where(p: Period, alias: str) -> Cond:
    """The period, scopes and server over ``emails e`` or ``rejects j``."""
    if alias == "e":
        conds = [cond("e.first_seen >= %s", p.since), cond("e.first_seen < %s", p.until)]
        for scope in p.scopes:
            conds += email_conditions(scope)
        if p.server:  # every e-mail the server handled, not only those that entered there
            conds.append(through_server(p.server))
    else:
        conds = [cond("j.at >= %s", p.since), cond("j.at < %s", p.until)]
        for scope in p.scopes:
            conds += reject_conditions(scope)
        if p.server:
            conds.append(cond("j.host = %s", p.server))
    return where(conds)


# Addresses, IPs and host names in brackets vary per message; without them reasons group.
_NORMALISE = sql.SQL(
    r"regexp_replace(regexp_replace({}, '<[^>]*>', '<...>', 'g'), '\[[^]]*\]', '[...]', 'g')"
)
_DIRECTION = sql.SQL(
    "CASE WHEN (SELECT role FROM servers s WHERE s.name = e.host)"
    " IN ('incoming', 'outgoing', 'relay', 'filter')"
    " THEN (SELECT role FROM servers s WHERE s.name = e.host) ELSE e.direction END"
)


def through_server(name: str) -> Cond:
    """E-mails ``name`` handled: one that crossed servers (in -> out) belongs to each."""
    return cond(
        "EXISTS (SELECT 1 FROM transactions t WHERE t.email_id = e.id AND t.host = %s)", name
    )


# Each e-mail's servers' roles (from the servers table, which `elsectl servers sync` and the
# SNMP poller fill from the configuration), in the order the e-mail reached them. Bounces
# the servers sent back are part of the e-mail's story, not of its way. Joins, not a
# per-e-mail LATERAL: the same rows in a third to a half of the time (a hash join over a
# period's e-mails instead of one index probe each; measured in docs/scale.md).
#: Statement of the "way" report: e-mails by the roles they crossed ("incoming → outgoing").
WAY_SQL: LiteralString = (
    "SELECT w.way, count(*), COALESCE(sum(w.size), 0)::bigint FROM ("
    " SELECT h.id, h.size, string_agg(h.role, ' → ' ORDER BY h.first, h.role) AS way FROM ("
    "  SELECT e.id, e.size, COALESCE(s.role, 'unknown') AS role, min(t.first_seen) AS first"
    " FROM emails e LEFT JOIN transactions t ON t.email_id = e.id"
    " AND t.origin IS DISTINCT FROM 'bounce' LEFT JOIN servers s ON s.name = t.host"
    " WHERE {where} GROUP BY e.id, e.size, 3) h GROUP BY h.id, h.size) w"
    " GROUP BY 1 ORDER BY 2 DESC, 1"
)
#: Statement of the "roles" report: e-mails that went through a server of each role.
ROLES_SQL: LiteralString = (
    "SELECT h.role, count(*), COALESCE(sum(h.size), 0)::bigint FROM ("
    " SELECT DISTINCT e.id, e.size, COALESCE(s.role, 'unknown') AS role"
    " FROM emails e LEFT JOIN transactions t ON t.email_id = e.id"
    " AND t.origin IS DISTINCT FROM 'bounce' LEFT JOIN servers s ON s.name = t.host"
    " WHERE {where}) h GROUP BY 1 ORDER BY 2 DESC, 1"
)
_RCPT_JOIN = sql.SQL("JOIN email_recipients r ON r.email_id = e.id")
_NO_JOIN = sql.SQL("")


@dataclass(frozen=True, slots=True)
class Report:
    """One table of the Reports page: a title, its column headers and its query.

    ``template`` is a statement whose ``{where}`` becomes the period's conditions over
    ``emails e`` (or ``rejects j`` when ``over_rejects``); ``{rank}`` the column a ranked
    report orders by (count, or bytes when the page asks for size); other fields come
    from ``parts``. A limited report ends with ``LIMIT %s`` (:data:`TOP_N`).
    """

    name: str
    title: str
    columns: tuple[str, ...]
    template: LiteralString
    parts: dict[str, Statement] = field(default_factory=dict)
    over_rejects: bool = False
    ranked: bool = False
    limited: bool = True

    def query(self, p: Period, order: str = "count") -> Cond:
        """The statement and its parameters for this period (no database needed)."""
        w, params = _period_where(p, "j" if self.over_rejects else "e")
        rank = sql.SQL("3" if self.ranked and order == "size" else "2")
        stmt = sql.SQL(self.template).format(where=w, rank=rank, **self.parts)
        lead: list[Any] = [p.bucket, p.tz] if self.name == "volume" else []
        tail: list[Any] = [TOP_N] if self.limited else []
        return stmt, [*lead, *params, *tail]

    def run(
        self, conn: psycopg.Connection, p: Period, order: str = "count"
    ) -> list[tuple[Any, ...]]:
        stmt, params = self.query(p, order)
        return conn.execute(stmt, params).fetchall()


_TOP: LiteralString = (
    "SELECT {key} AS k, count(*), COALESCE(sum(e.size), 0)::bigint FROM emails e {join}"
    " WHERE {where} GROUP BY 1 ORDER BY {rank} DESC, 1 LIMIT %s"
)


def _top(name: str, title: str, header: str, key: LiteralString, join: Statement) -> Report:
    """A ranked "top N" report over e-mails: key, e-mails, bytes."""
    parts = {"key": sql.SQL(key), "join": join}
    return Report(name, title, (header, "e-mails", "bytes"), _TOP, parts, ranked=True)


def _reason(expr: LiteralString) -> dict[str, Statement]:
    return {"reason": _NORMALISE.format(sql.SQL(expr))}


REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report(
            "volume",
            "Volume by status",
            ("period", "status", "recipients"),
            "SELECT to_char(date_trunc(%s, e.first_seen AT TIME ZONE %s),"
            " 'YYYY-MM-DD HH24:00') AS b, r.status, count(*) FROM emails e"
            " JOIN email_recipients r ON r.email_id = e.id WHERE {where}"
            " GROUP BY 1, 2 ORDER BY 1, 2",
            limited=False,
        ),
        Report(
            "direction",
            "Direction",
            ("direction", "e-mails", "bytes"),
            "SELECT {d} AS d, count(*), COALESCE(sum(e.size), 0)::bigint FROM emails e"
            " WHERE {where} GROUP BY 1 ORDER BY 2 DESC",
            {"d": _DIRECTION},
            limited=False,
        ),
        Report(
            "roles",
            "Traffic by server role",
            ("server role", "e-mails", "bytes"),
            ROLES_SQL,
            limited=False,
        ),
        Report(
            "way",
            "Way through the servers",
            ("way", "e-mails", "bytes"),
            WAY_SQL,
            limited=False,
        ),
        _top(
            "senders",
            "Top senders",
            "sender",
            "COALESCE(NULLIF(lower(e.sender), ''), '<>')",
            _NO_JOIN,
        ),
        _top("recipients", "Top recipients", "recipient", "lower(r.address)", _RCPT_JOIN),
        _top(
            "sender_domains",
            "Top sender domains",
            "domain",
            "COALESCE(e.sender_domain, '')",
            _NO_JOIN,
        ),
        _top(
            "recipient_domains",
            "Top recipient domains",
            "domain",
            "COALESCE(r.domain, '')",
            _RCPT_JOIN,
        ),
        Report(
            "rejects",
            "Reject reasons",
            ("code", "dsn", "reason", "count"),
            "SELECT COALESCE(j.code, ''), COALESCE(j.dsn, ''), {reason}, count(*)"
            " FROM rejects j WHERE {where} GROUP BY 1, 2, 3 ORDER BY 4 DESC, 3 LIMIT %s",
            _reason("COALESCE(j.reason, j.action)"),
            over_rejects=True,
        ),
        Report(
            "deferrals",
            "Deferral reasons",
            ("dsn", "reason", "count"),
            "SELECT COALESCE(d.dsn, ''), {reason}, count(*) FROM emails e"
            " JOIN deliveries d ON d.email_id = e.id AND d.status = 'deferred'"
            " WHERE {where} GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT %s",
            _reason("COALESCE(d.response, '')"),
        ),
        Report(
            "bounces",
            "Bounce reasons",
            ("dsn", "reason", "count"),
            "SELECT COALESCE(r.dsn, ''), {reason}, count(*) FROM emails e"
            " JOIN email_recipients r ON r.email_id = e.id AND r.status IN ('bounced', 'expired')"
            " WHERE {where} GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT %s",
            _reason("COALESCE(r.response, '')"),
        ),
    )
}


def report_totals(conn: psycopg.Connection, p: Period) -> dict[str, int]:
    """The Reports page's headline: e-mails, bytes, recipients and rejects of the period."""
    w, params = _period_where(p, "e")
    row = conn.execute(
        sql.SQL(
            "SELECT count(*), COALESCE(sum(e.size), 0)::bigint, COALESCE(sum(e.nrcpt), 0)::bigint"
            " FROM emails e WHERE {}"
        ).format(w),
        params,
    ).fetchone()
    rw, rparams = _period_where(p, "j")
    rej = conn.execute(sql.SQL("SELECT count(*) FROM rejects j WHERE {}").format(rw), rparams)
    rej_row = rej.fetchone()
    assert row is not None and rej_row is not None
    return {"emails": row[0], "bytes": row[1], "recipients": row[2], "rejects": rej_row[0]}


# -- rendering -------------------------------------------------------------------------------


def _safe(v: Any) -> str:
    text = "" if v is None else str(v)
    return "".join(c if c.isprintable() else "?" for c in text)


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def render_text(report: dict[str, Any]) -> str:
    out: list[str] = []
    per = report["period"]
    out.append(f"ELSE statistics {per['since'] or '-'} .. {per['until'] or '-'}")
    if per["hosts"]:
        out.append("servers: " + ", ".join(per["hosts"]))
    out.append("")
    out.append(f"{report['emails']:>10}  e-mails ({report['bytes']} bytes)")
    for status, n in report["emails_by_status"].items():
        out.append(f"{n:>10}    {status}")
    out.append(f"{report['recipients']:>10}  recipients")
    for status, n in report["recipients_by_status"].items():
        out.append(f"{n:>10}    {status}")
    out.append(f"{report['rejects']:>10}  rejects")
    for action, n in report["rejects_by_action"].items():
        out.append(f"{n:>10}    {_safe(action)}")
    series = report["series"]
    if series["rows"]:
        statuses = sorted({k for r in series["rows"] for k in r if k != "t"})
        out.append("")
        out.append(f"Per {series['bucket']}:")
        out.append(f"{'':<20}" + "".join(f"{s:>11}" for s in statuses))
        for r in series["rows"]:
            out.append(f"{r['t'][:16]:<20}" + "".join(f"{r.get(s, 0):>11}" for s in statuses))
    for title, key, value in (
        ("By server role", "by_role", "emails"),
        ("Way through the servers", "ways", "emails"),
        ("Top senders", "top_senders", "emails"),
        ("Top sender domains", "top_sender_domains", "emails"),
        ("Top recipients", "top_recipients", "emails"),
        ("Top recipient domains", "top_recipient_domains", "emails"),
        ("Top reject reasons", "top_reject_reasons", "count"),
        ("Top rejected clients", "top_rejected_clients", "count"),
    ):
        rows = report.get(key, [])
        if not rows:
            continue
        out.append("")
        out.append(f"{title}:")
        for r in rows:
            out.append(f"{r[value]:>10}  {_safe(r['key']) or '<>'}")
    return "\n".join(out) + "\n"


def render_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["section", "key", "value"])
    w.writerow(["totals", "emails", report["emails"]])
    w.writerow(["totals", "bytes", report["bytes"]])
    w.writerow(["totals", "recipients", report["recipients"]])
    w.writerow(["totals", "rejects", report["rejects"]])
    for status, n in report["emails_by_status"].items():
        w.writerow(["emails_by_status", status, n])
    for status, n in report["recipients_by_status"].items():
        w.writerow(["recipients_by_status", status, n])
    for action, n in report["rejects_by_action"].items():
        w.writerow(["rejects_by_action", action, n])
    for r in report["series"]["rows"]:
        for k, v in r.items():
            if k != "t":
                w.writerow([f"series_{report['series']['bucket']}", f"{r['t']} {k}", v])
    for key in (
        "by_role",
        "ways",
        "top_senders",
        "top_sender_domains",
        "top_recipients",
        "top_recipient_domains",
    ):
        for r in report.get(key, []):
            w.writerow([key, r["key"], r["emails"]])
    for key in ("top_reject_reasons", "top_rejected_clients"):
        for r in report[key]:
            w.writerow([key, r["key"], r["count"]])
    return buf.getvalue()


RENDERERS = {"text": render_text, "json": render_json, "csv": render_csv}
