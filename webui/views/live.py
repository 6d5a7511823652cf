"""The live view: the newest e-mails and rejects, refreshed by the page's script."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bottle import Bottle, response

from else_core.search import Query, search_emails, search_rejects
from webui.context import Ctx, ctx, fmt_time, json_response, render


def live_data(c: Ctx) -> dict[str, Any]:
    tz = c.tz
    emails = search_emails(c.db, Query(limit=20, count=False), c.scope).items
    rejects = search_rejects(c.db, Query(limit=20, count=False), c.scope).items
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
        return render("live.html", data=live_data(ctx()))

    @app.get("/api/v1/live")
    def api_live() -> str:
        response.set_header("Cache-Control", "no-store")
        return json_response(live_data(ctx()))
