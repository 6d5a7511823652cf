"""One e-mail's story: every hop and attempt per recipient, in plain words."""

from __future__ import annotations

from typing import Any

from bottle import Bottle, HTTPError

from else_core.audit import control_rows_for
from else_core.search import email_detail
from else_core.story import add_events, admin_events
from webui import explain
from webui.context import ctx, render, settings_of


def build_story(detail: dict[str, Any]) -> dict[str, Any]:
    """Per recipient, every attempt across every hop, in time order, with plain words."""
    doc = detail["email"]
    txs = doc.get("transactions") or []
    attempts: list[dict[str, Any]] = []
    for t in txs:
        for a in t.get("attempts") or []:
            item = dict(a)
            item["origin"] = t.get("origin")
            item["words"] = explain.explain(a.get("dsn"), a.get("response"))
            item["delays_split"] = explain.split_delays(a.get("delays"))
            attempts.append(item)
    attempts.sort(key=lambda a: a.get("at") or "")
    recipients = []
    for r in doc.get("recipients") or []:
        names = {x.lower() for x in (r.get("address"), r.get("orig_address")) if x}
        mine = [
            a
            for a in attempts
            if (a.get("to") or "").lower() in names or (a.get("orig_to") or "").lower() in names
        ]
        recipients.append(
            {
                "r": r,
                "attempts": mine,
                "words": explain.explain(r.get("dsn"), r.get("response")),
            }
        )
    open_txs = [t for t in txs if t.get("state") == "open"]
    return {"recipients": recipients, "open": open_txs, "delays": explain.DELAYS}


def install(app: Bottle) -> None:
    settings = settings_of(app)

    @app.get("/email/<eid>")
    def email_page(eid: str) -> str:
        c = ctx()
        detail = email_detail(c.db, eid[:200], c.scope)
        if detail is None:
            raise HTTPError(404, "no such e-mail (or not yours to see)")
        doc = detail["email"]
        story = add_events(build_story(detail), doc, control_rows_for(c.db, admin_events(doc)))
        servers = {s.name for s in settings.config.servers}
        return render("email.html", d=detail, e=detail["email"], story=story, servers=servers)
