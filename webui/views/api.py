"""The JSON API (``/api/v1``): search, one e-mail, rejects, statistics, alerts, its OpenAPI
file.

Authenticated by a bearer token (or the browser's session); a parameter the API does
not know is refused, so a typo cannot widen a search.
"""

from __future__ import annotations

from typing import Any

from bottle import Bottle, static_file

from else_core import stats
from else_core.alerts import store as alert_store
from else_core.errors import ElseError
from else_core.search import (
    EMAIL_FIELDS,
    REJECT_FIELDS,
    REJECT_SORTS,
    email_detail,
    search_emails,
    search_rejects,
    summary,
)
from webui.context import HERE, ctx, json_response, request_items
from webui.queries import Params, build_query, check_api_params
from webui.views.reports import period

#: ``state`` values of /api/v1/alerts: the stored states, plus the two views the Alerts page has.
ALERT_STATES: dict[str, tuple[str, ...]] = {
    "unresolved": ("open", "acknowledged"),
    "all": alert_store.STATES,
    **{s: (s,) for s in alert_store.STATES},
}
ALERT_LIMIT_MAX = 1000

#: The Reports page's tables that /api/v1/stats adds to ``elsectl stats``'s JSON.
STATS_EXTRA = ("direction", "roles", "way", "deferrals", "bounces")


def install(app: Bottle) -> None:
    @app.get("/api/v1/search")
    def api_search() -> str:
        c = ctx()
        params = Params(request_items())
        check_api_params(params, EMAIL_FIELDS)
        query = build_query(params, None, EMAIL_FIELDS)
        page = search_emails(c.db, query, c.scope)
        return json_response(
            {
                "emails": [summary(r["doc"]) for r in page.items],
                "next": page.next_cursor,
                "total": page.total,
                "total_exact": page.total_exact,
            }
        )

    @app.get("/api/v1/emails/<eid>")
    def api_email(eid: str) -> str:
        c = ctx()
        detail = email_detail(c.db, eid[:200], c.scope)
        if detail is None:
            return json_response({"error": "no such e-mail"}, 404)
        return json_response(detail)

    @app.get("/api/v1/rejects")
    def api_rejects() -> str:
        c = ctx()
        params = Params(request_items())
        check_api_params(params, REJECT_FIELDS, REJECT_SORTS)
        query = build_query(params, None, REJECT_FIELDS)
        query.sort = "-time"
        page = search_rejects(c.db, query, c.scope)
        return json_response(
            {
                "rejects": page.items,
                "next": page.next_cursor,
                "total": page.total,
                "total_exact": page.total_exact,
            }
        )

    @app.get("/api/v1/stats")
    def api_stats() -> str:
        """``elsectl stats``'s JSON (else_core.stats) plus the Reports page's extra tables."""
        c = ctx()
        p, meta = period(c)
        sq = stats.StatsQuery(
            since=p.since,
            until=p.until,
            hosts=(p.server,) if p.server else (),
            scope=p.scopes[-1],
        )
        out = stats.compute(c.db, sq)
        out["period"]["group"] = meta["group"] or None
        for name in STATS_EXTRA:
            report = stats.REPORTS[name]
            keys = [h.replace("-", "_") for h in report.columns]
            out[name] = [
                dict(zip(keys, row, strict=True)) for row in report.run(c.db, p, meta["order"])
            ]
        return json_response(out)

    @app.get("/api/v1/alerts", auth="admin")
    def api_alerts() -> str:
        """The Alerts page's list for monitoring systems; admin only, like the page (alerts
        name every tenant's servers, domains and relays)."""
        params = Params(request_items())
        unknown = sorted(params.names() - {"state", "limit"})
        if unknown:
            return json_response({"error": f"unknown parameter {unknown[0][:40]!r}"}, 400)
        state = params.get("state") or "unresolved"
        if state not in ALERT_STATES:
            known = ", ".join(ALERT_STATES)
            return json_response({"error": f"unknown state {state[:40]!r} (known: {known})"}, 400)
        text = params.get("limit") or "200"
        if not text.isdigit() or not 1 <= int(text) <= ALERT_LIMIT_MAX:
            return json_response(
                {"error": f"limit must be a number from 1 to {ALERT_LIMIT_MAX}"}, 400
            )
        alerts = alert_store.list_alerts(ctx().db, ALERT_STATES[state], int(text))
        return json_response({"alerts": alerts, "state": state})

    @app.get("/api/v1/alerts/<alert_id:int>", auth="admin")
    def api_alert(alert_id: int) -> str:
        try:
            return json_response(alert_store.alert_detail(ctx().db, alert_id))
        except ElseError as exc:
            return json_response({"error": str(exc)}, 404)

    @app.get("/api/v1/openapi.json", auth="none")
    def api_openapi() -> Any:
        return static_file("openapi.json", root=str(HERE / "static"), mimetype="application/json")
