"""The Servers page: health and queue charts from the SNMP poller, the live queue, and
queue control (flush, hold, release, delete, requeue) over SNMP with an audit row.

Administrators only; control is a POST with the CSRF token and a confirmation step.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from bottle import Bottle, HTTPError, redirect, response

from else_core import accounts, forwarding
from else_core import servers as servers_mod
from else_core.errors import ElseError
from else_core.queueid import valid_queue_id
from else_core.snmp.audit import control_with_audit
from else_core.snmp.client import SnmpManager, targets_from_config
from webui import charts
from webui.context import ctx, f, q, render, settings_of
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
        return render(
            "server.html",
            s=server,
            listing=listing,
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
        return charts.queue_lines(samples, f"{name}: queue sizes, last {hours} h ({tz.key})")

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
        queue_id = f("queue_id").strip() or None
        back = f("back")
        back = back if back.startswith("/") and not back.startswith("//") else f"/servers/{name}"
        if action not in CONTROL_ACTIONS:
            raise HTTPError(400, "unknown action")
        if queue_id is not None and not valid_queue_id(queue_id):
            raise HTTPError(400, "not a Postfix queue ID")
        if action != "flush" and queue_id is None:
            raise HTTPError(400, f"{action} needs a queue ID")
        if f("confirm") != "yes":
            return render("confirm.html", name=name, action=action, queue_id=queue_id, back=back)
        try:
            target = targets_from_config(settings.config, name)[0]
        except ElseError as exc:
            accounts.audit(
                c.db,
                me(),
                f"snmp.{action}",
                f"{name}:{queue_id or '*'}",
                "error",
                {"message": str(exc)},
            )
            c.flash(f"{action} on {name} failed: {exc}", "error")
            redirect(back, 303)

        async def run() -> Any:
            async with SnmpManager() as manager:
                return await control_with_audit(
                    manager, target, action, queue_id, actor=me(), conn=c.db
                )

        try:
            result = asyncio.run(run())
            kind = "ok" if result.ok else "error"
            c.flash(f"{action} {queue_id or ''} on {name}: {result.message}", kind)
        except ElseError as exc:
            c.flash(f"{action} on {name} failed: {exc}", "error")
        redirect(back, 303)
