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
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from else_core.model import STATUSES
from else_core.search import Scope, _scope_email, _scope_reject, _time_range

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


def _where(q: StatsQuery, params: list[Any], alias: str = "e") -> str:
    conds = _scope_email(q.scope, params) if alias == "e" else _scope_reject(q.scope, params)
    col = "e.first_seen" if alias == "e" else "j.at"
    _time_range(col, q.since, q.until, conds, params)
    if q.hosts:
        conds.append(f"{alias}.host = ANY(%s)")
        params.append(list(q.hosts))
    return " AND ".join(conds) or "true"


def compute(conn: psycopg.Connection, q: StatsQuery) -> dict[str, Any]:
    bucket = q.bucket
    if bucket is None:
        short = q.since is not None and q.until is not None
        bucket = "hour" if short and q.until - q.since <= timedelta(days=3) else "day"  # type: ignore[operator]
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
            out["source"] = "rollups" if can_use_rollups(q) else "scan"
    finally:
        conn.autocommit = prev
    return out


def _recipients_from(q: StatsQuery, params: list[Any]) -> str:
    """FROM + WHERE over recipients: without a scope no join is needed (email_recipients
    carries the e-mail's first_seen and host); with one, the scope needs the e-mail."""
    if q.scope is not None and not q.scope.unrestricted:
        return (
            f"FROM emails e JOIN email_recipients r ON r.email_id = e.id WHERE {_where(q, params)}"
        )
    conds = []
    _time_range("r.first_seen", q.since, q.until, conds, params)
    if q.hosts:
        conds.append("r.email_host = ANY(%s)")
        params.append(list(q.hosts))
    return f"FROM email_recipients r WHERE {' AND '.join(conds) or 'true'}"


def _fill(conn: psycopg.Connection, q: StatsQuery, bucket: str, top: int, out: dict) -> None:
    p: list[Any] = []
    w = _where(q, p)
    rows = conn.execute(
        f"SELECT e.status, count(*), COALESCE(sum(e.size), 0) FROM emails e WHERE {w} GROUP BY 1",
        p,
    ).fetchall()
    out["emails"] = sum(r[1] for r in rows)
    out["bytes"] = int(sum(r[2] for r in rows))
    out["emails_by_status"] = _ordered({r[0]: r[1] for r in rows})

    p = []
    src = _recipients_from(q, p)
    rows = conn.execute(
        f"SELECT date_trunc('{bucket}', r.first_seen) AS t, r.status, count(*) {src}"
        " GROUP BY 1, 2 ORDER BY 1",
        p,
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

    def top_emails(expr: str) -> list[dict[str, Any]]:
        p2: list[Any] = []
        w2 = _where(q, p2)
        res = conn.execute(
            f"SELECT {expr} AS k, count(*), COALESCE(sum(e.size), 0) FROM emails e"
            f" WHERE {w2} AND {expr} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s",
            [*p2, top],
        ).fetchall()
        return [{"key": r[0], "emails": r[1], "bytes": int(r[2])} for r in res]

    def top_recipients(expr: str) -> list[dict[str, Any]]:
        p2: list[Any] = []
        src2 = _recipients_from(q, p2)
        res = conn.execute(
            f"SELECT {expr} AS k, count(*) {src2} AND {expr} IS NOT NULL"
            " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s",
            [*p2, top],
        ).fetchall()
        return [{"key": r[0], "emails": r[1]} for r in res]

    out["top_senders"] = top_emails("lower(e.sender)")
    out["top_sender_domains"] = top_emails("e.sender_domain")
    out["top_recipients"] = top_recipients("lower(r.address)")
    out["top_recipient_domains"] = top_recipients("r.domain")

    p = []
    w = _where(q, p, "j")
    rows = conn.execute(
        f"SELECT j.action, count(*) FROM rejects j WHERE {w} GROUP BY 1 ORDER BY 2 DESC", p
    ).fetchall()
    out["rejects"] = sum(r[1] for r in rows)
    out["rejects_by_action"] = {r[0]: r[1] for r in rows}
    p = []
    w = _where(q, p, "j")
    rows = conn.execute(
        f"SELECT COALESCE(j.code, '') || ' ' || left(COALESCE(j.reason, ''), 120), count(*)"
        f" FROM rejects j WHERE {w} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s",
        [*p, top],
    ).fetchall()
    out["top_reject_reasons"] = [{"key": r[0].strip(), "count": r[1]} for r in rows]
    p = []
    w = _where(q, p, "j")
    rows = conn.execute(
        f"SELECT COALESCE(j.client_ip, ''), count(*) FROM rejects j WHERE {w}"
        " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s",
        [*p, top],
    ).fetchall()
    out["top_rejected_clients"] = [{"key": r[0], "count": r[1]} for r in rows]


def _fill_rollups(
    conn: psycopg.Connection, q: StatsQuery, bucket: str, top: int, out: dict
) -> None:
    """The same report from stats_hourly / stats_daily (see migration 0004)."""
    hosts = list(q.hosts) or ["*"]

    def hourly(kind: str) -> list[tuple]:
        conds, params = ["kind = %s", "host = ANY(%s)"], [kind, hosts]
        _time_range("hour", q.since, q.until, conds, params)
        return conn.execute(
            f"SELECT date_trunc('{bucket}', hour), key, sum(n), sum(bytes) FROM stats_hourly"
            f" WHERE {' AND '.join(conds)} GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1",
            params,
        ).fetchall()

    def daily(kind: str) -> list[tuple]:
        conds, params = ["kind = %s"], [kind]
        single_day = (
            q.since is not None
            and q.until is not None
            and q.until - q.since == timedelta(days=1)
            and len(hosts) == 1
        )
        if single_day:  # equality on (day, host, kind): the index is already in n order
            return conn.execute(
                "SELECT key, n, bytes FROM stats_daily WHERE kind = %s AND day = %s"
                " AND host = %s AND n > 0 ORDER BY n DESC, key LIMIT %s",
                [kind, q.since.astimezone(UTC).date(), hosts[0], top],  # type: ignore[union-attr]
            ).fetchall()
        _time_range("day", _utc_day(q.since), _utc_day(q.until), conds, params)
        conds.append("host = ANY(%s)")
        return conn.execute(
            f"SELECT key, sum(n), sum(bytes) FROM stats_daily WHERE {' AND '.join(conds)}"
            " GROUP BY key HAVING sum(n) > 0 ORDER BY 2 DESC, 1 LIMIT %s",
            [*params, hosts, top],
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


def daily_all(conn: psycopg.Connection, q: StatsQuery, hosts: list[str], kind: str) -> list[tuple]:
    """Every key of a daily rollup kind (a short list: e.g. reject actions)."""
    conds, params = ["kind = %s", "host = ANY(%s)"], [kind, hosts]
    _time_range("day", _utc_day(q.since), _utc_day(q.until), conds, params)
    return conn.execute(
        f"SELECT key, sum(n), 0 FROM stats_daily WHERE {' AND '.join(conds)}"
        " GROUP BY key HAVING sum(n) > 0 ORDER BY 2 DESC, 1",
        params,
    ).fetchall()


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    """Statuses in the vocabulary's order (then anything else, e.g. ``mixed``)."""
    order = {s: i for i, s in enumerate(STATUSES)}
    return dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


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
        ("Top senders", "top_senders", "emails"),
        ("Top sender domains", "top_sender_domains", "emails"),
        ("Top recipients", "top_recipients", "emails"),
        ("Top recipient domains", "top_recipient_domains", "emails"),
        ("Top reject reasons", "top_reject_reasons", "count"),
        ("Top rejected clients", "top_rejected_clients", "count"),
    ):
        rows = report[key]
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
        "top_senders",
        "top_sender_domains",
        "top_recipients",
        "top_recipient_domains",
    ):
        for r in report[key]:
            w.writerow([key, r["key"], r["emails"]])
    for key in ("top_reject_reasons", "top_rejected_clients"):
        for r in report[key]:
            w.writerow([key, r["key"], r["count"]])
    return buf.getvalue()


RENDERERS = {"text": render_text, "json": render_json, "csv": render_csv}
