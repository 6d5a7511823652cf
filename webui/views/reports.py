"""The Reports page: the tables of :data:`else_core.stats.REPORTS`, charts and CSV."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bottle import Bottle, HTTPError, response

from else_core import accounts, stats
from else_core import servers as servers_mod
from else_core.scope import Scope
from else_core.search import SearchError
from webui import charts
from webui.context import Ctx, csv_response, ctx, q, query_string, render, request_items
from webui.queries import parse_when

PRESETS = {"1d": 1, "7d": 7, "30d": 30, "90d": 90}


def period(c: Ctx) -> tuple[stats.Period, dict[str, Any]]:
    """The page's period, server and group (a group's scope narrows, never widens)."""
    tz = c.tz
    now = datetime.now(tz)
    preset = q("period", "7d")
    if q("since"):
        since = parse_when(q("since"), tz)
        until = parse_when(q("until"), tz, end=True) if q("until") else now
        preset = "custom"
    else:
        since = now - timedelta(days=PRESETS.get(preset, 7))
        until = now + timedelta(minutes=1)
    if until <= since:
        raise SearchError("the end of the period must be after its start")
    # A group's scope lies inside the scope of each of its members (their scope is
    # the union of their groups), so it replaces the user's scope, never widens it.
    scopes: list[Scope | None] = [c.scope]
    group_name = q("group")
    groups = accounts.list_groups(
        c.db, None if c.user and c.user.is_admin else c.user.id if c.user else None
    )
    if group_name:
        match = [g for g in groups if g.name == group_name]
        if not match:
            raise SearchError("unknown group")
        scopes = [accounts.group_scope(match[0])]
    server = q("server") or None
    p = stats.Period(since, until, tz.key, server, scopes)
    meta = {
        "period": preset,
        "since": since,
        "until": until,
        "server": server or "",
        "group": group_name,
        "groups": [g.name for g in groups],
        "servers": servers_mod.known_names(c.db, c.settings.config),
        "roles": servers_mod.roles(c.db, c.settings.config),
        "order": "size" if q("order") == "size" else "count",
    }
    return p, meta


def report_named(name: str) -> stats.Report:
    report = stats.REPORTS.get(name)
    if report is None:
        raise HTTPError(404, "no such report")
    return report


def install(app: Bottle) -> None:
    @app.get("/reports")
    def reports_page() -> str:
        c = ctx()
        p, meta = period(c)
        tables = {name: r.run(c.db, p, meta["order"]) for name, r in stats.REPORTS.items()}
        return render(
            "reports.html",
            reports=stats.REPORTS,
            tables=tables,
            totals=stats.report_totals(c.db, p),
            meta=meta,
            params=query_string(request_items()),
            items=request_items(),
        )

    @app.get("/reports/chart/<name>.svg")
    def report_chart(name: str) -> bytes:
        c = ctx()
        report = report_named(name)
        p, meta = period(c)
        rows = report.run(c.db, p, meta["order"])
        response.content_type = "image/svg+xml"
        response.set_header("Cache-Control", "private, max-age=60")
        buckets = stats.bucket_labels(p) if name == "volume" else []
        size = "narrow" if q("size") == "narrow" else "wide"
        return charts.report_chart(name, report.title, rows, meta["order"], buckets, size)

    @app.get("/reports/<name>.csv")
    def report_csv(name: str) -> str:
        c = ctx()
        report = report_named(name)
        p, meta = period(c)
        rows = report.run(c.db, p, meta["order"])
        return csv_response(rows, report.columns, f"else-{name}.csv")
