"""The Servers page: health and queue charts from the SNMP poller, the live queue, and
queue control (flush, hold, release, delete, requeue) over SNMP with an audit row.

Administrators only; control is a POST with the CSRF token and a confirmation step.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from bottle import Bottle, HTTPError, redirect, request, response

from else_core import accounts, forwarding
from else_core import servers as servers_mod
from else_core.errors import ElseError
from else_core.queueid import valid_queue_id
from else_core.snmp.audit import control_with_audit, recent_controls
from else_core.snmp.client import SnmpManager, targets_from_config
from webui import charts
from webui.context import ctx, f, q, render, settings_of
from webui.queries import (
    RECENT_ACTIONS_SECONDS,
    control_words,
    queue_counts,
    queue_view,
)
from webui.views.admin import me

CONTROL_ACTIONS = ("flush", "hold", "release", "delete", "requeue")


def hours_param() -> int:
    """The charts' window (``?hours=``): 1 hour to 31 days, 24 by default."""
    try:
        return max(1, min(int(q("hours") or 24), 24 * 31))
    except ValueError:
        return 24


def install(app: Bottle) -> None:
    settings = settings_of(app)

    def _servers() -> list[dict[str, Any]]:
        return servers_mod.health(ctx().db, settings.config)

    def _samples(name: str, hours: int) -> list[tuple[datetime, dict[str, Any] | None]]:
        return servers_mod.samples(ctx().db, name, datetime.now(UTC) - timedelta(hours=hours))

    @app.get("/servers", auth="admin")
    def servers_page() -> str:
        # Sent vs received log lines per PFX over the last 24 h: an incomplete server
        # means ELSE's answers about its mail may be incomplete.
        since = datetime.now(UTC) - timedelta(hours=24)
        gaps = {g.host: g for g in forwarding.server_gaps(ctx().db, since)}
        return render("servers.html", servers=_servers(), gaps=gaps)

    def _one(name: str) -> dict[str, Any]:
        for s in _servers():
            if s["name"] == name:
                return s
        raise HTTPError(404, "no such server")

    @app.get("/servers/<name>", auth="admin")
    def server_page(name: str) -> str:
        server = _one(name)
        listing, error = None, None
        if q("queue") != "no":
            try:
                target = targets_from_config(settings.config, name)[0]

                async def fetch() -> Any:
                    async with SnmpManager() as manager:
                        return await manager.queue(target)

                listing = asyncio.run(fetch())
            except ElseError as exc:
                error = str(exc)
        hours = hours_param()
        view: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        if listing is not None:
            recent = recent_controls(ctx().db, name, RECENT_ACTIONS_SECONDS)
            counts = queue_counts(queue_view(listing.entries, recent))
            view = queue_view(listing.entries, recent, q("sender"), q("recipient"), q("status"))
        return render(
            "server.html",
            s=server,
            listing=listing,
            view=view,
            counts=counts,
            filtered=bool(q("sender") or q("recipient") or q("status")),
            fsender=q("sender"),
            frecipient=q("recipient"),
            fstatus=q("status"),
            error=error,
            hours=hours,
            actions=CONTROL_ACTIONS,
        )

    @app.get("/servers/<name>/queues.svg", auth="admin")
    def server_chart(name: str) -> bytes:
        _one(name)
        hours = hours_param()
        response.content_type = "image/svg+xml"
        response.set_header("Cache-Control", "private, max-age=30")
        tz = ctx().tz
        samples = [(at.astimezone(tz), m) for at, m in _samples(name, hours)]
        size = "narrow" if q("size") == "narrow" else "wide"
        return charts.queue_lines(samples, f"{name}: queues, last {hours} h ({tz.key})", size)

    @app.get("/servers/<name>/spark.svg", auth="admin")
    def server_spark(name: str) -> bytes:
        _one(name)
        values = [((m or {}).get("queues") or {}).get("total") for _at, m in _samples(name, 24)]
        response.content_type = "image/svg+xml"
        response.set_header("Cache-Control", "private, max-age=30")
        return charts.sparkline(values)

    @app.post("/servers/<name>/control", auth="admin")
    def server_control(name: str) -> Any:
        c = ctx()
        action = f("action")
        ids = [i.strip() for i in request.forms.getall("queue_id") if i.strip()]
        ids = list(dict.fromkeys(ids))[:200]
        back = f("back")
        back = back if back.startswith("/") and not back.startswith("//") else f"/servers/{name}"
        if action not in CONTROL_ACTIONS:
            raise HTTPError(400, "unknown action")
        if any(not valid_queue_id(i) for i in ids):
            raise HTTPError(400, "not a Postfix queue ID")
        if action != "flush" and not ids:
            raise HTTPError(400, f"{action} needs a queue ID: select at least one message")
        if action == "flush":
            ids = []
        if f("confirm") != "yes":
            return render(
                "confirm.html",
                name=name,
                action=action,
                queue_id=ids[0] if len(ids) == 1 else None,
                queue_ids=ids,
                back=back,
            )
        conn = c.primary  # refused (read-only) before any action is sent: no unaudited action
        try:
            target = targets_from_config(settings.config, name)[0]
        except ElseError as exc:
            for qid in ids or [None]:
                accounts.audit(
                    conn,
                    me(),
                    f"snmp.{action}",
                    f"{name}:{qid or '*'}",
                    "error",
                    {"message": str(exc)},
                )
            c.flash(f"Could not {action} on {name}: {exc}", "error")
            redirect(back, 303)

        async def run(qid: str | None) -> Any:
            async with SnmpManager() as manager:
                return await control_with_audit(manager, target, action, qid, actor=me(), conn=conn)

        answers: list[tuple[bool, str]] = []
        for qid in ids or [None]:
            try:
                result = asyncio.run(run(qid))
                words = control_words(action, qid, name, result.ok, result.message)
                answers.append((result.ok or "no longer in the queue" in words, words))
            except ElseError as exc:
                answers.append((False, control_words(action, qid, name, False, str(exc))))
        failed = [w for ok, w in answers if not ok]
        if len(answers) == 1:
            c.flash(answers[0][1], "ok" if answers[0][0] else "error")
        else:
            done = len(answers) - len(failed)
            text = f"{action.capitalize()}: {done} of {len(answers)} messages on {name} done."
            c.flash(" ".join([text, *failed]), "error" if failed else "ok")
        redirect(back, 303)
