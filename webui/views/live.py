"""The live view: the newest e-mails and rejects, refreshed by the page's script."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bottle import Bottle, response

from else_core import servers as servers_mod
from else_core.model import EMAIL_STATUSES
from else_core.search import Filter, Query, search_emails, search_rejects
from webui.context import Ctx, ctx, fmt_time, json_response, q, query_string, render

#: The live view's filters: (parameter, e-mail filter, reject filter or None).
LIVE_FILTERS = (
    ("server", "host", "equals", "host"),
    ("sender", "sender", "contains", "sender"),
    ("recipient", "recipient", "contains", "recipient"),
    ("status", "status", "equals", None),
)


def live_filters() -> dict[str, str]:
    """The filters the page (and its script's JSON requests) carry in the query string."""
    out = {name: q(name).strip() for name, *_ in LIVE_FILTERS}
    if out["status"] and out["status"] not in EMAIL_STATUSES and out["status"] != "rejected":
        out["status"] = ""
    return {k: v for k, v in out.items() if v}


def live_data(c: Ctx, chosen: dict[str, str] | None = None) -> dict[str, Any]:
    """The newest e-mails and refusals matching the chosen filters (status "rejected":
    refusals only; any other status: e-mails only)."""
    tz = c.tz
    chosen = chosen or {}
    email_q = Query(limit=20, count=False)
    reject_q = Query(limit=20, count=False)
    for name, field, op, reject_field in LIVE_FILTERS:
        value = chosen.get(name)
        if not value or (name == "status" and value == "rejected"):
            continue
        email_q.filters.append(Filter(field, value, op))
        if reject_field:
            reject_q.filters.append(Filter(reject_field, value, op))
    status = chosen.get("status")
    emails = [] if status == "rejected" else search_emails(c.db, email_q, c.scope).items
    rejects = (
        [] if status and status != "rejected" else search_rejects(c.db, reject_q, c.scope).items
    )
    return {
        "at": fmt_time(datetime.now(UTC), tz),
        "emails": [
            {
                "id": r["doc"]["id"],
                "when": fmt_time(r["doc"].get("first_seen"), tz),
                "sender": r["doc"].get("sender") or "<>",
                "recipients": [
                    {"address": x.get("address"), "status": x.get("status")}
                    for x in r["doc"].get("recipients") or []
                ],
                "status": r["doc"].get("status"),
                "host": r["doc"].get("host"),
            }
            for r in emails
        ],
        "rejects": [
            {
                "when": fmt_time(j.get("at"), tz),
                "client": j.get("client"),
                "client_ip": j.get("client_ip"),
                "sender": j.get("sender"),
                "recipient": j.get("recipient"),
                "code": j.get("code"),
                "reason": j.get("reason"),
                "host": j.get("host"),
            }
            for j in rejects
        ],
    }


def install(app: Bottle) -> None:
    @app.get("/live")
    def live_page() -> str:
        c = ctx()
        chosen = live_filters()
        return render(
            "live.html",
            data=live_data(c, chosen),
            chosen=chosen,
            live_qs=query_string(chosen),
            servers=sorted(servers_mod.names(c.db)),
            statuses=[*EMAIL_STATUSES, "rejected"],
        )

    @app.get("/api/v1/live")
    def api_live() -> str:
        response.set_header("Cache-Control", "no-store")
        return json_response(live_data(ctx(), live_filters()))
