"""Admin pages (users, groups, audit log) and the Servers page (health, queue, control).

Everything here is for administrators only (the route option ``auth="admin"``, checked
by the request plugin before the handler runs), and every change is a POST with the
CSRF token, written to ``audit_log`` with who, what, when and the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bottle import Bottle, HTTPError, redirect, response
from psycopg.rows import dict_row

from else_core import accounts, forwarding
from else_core.errors import ElseError
from else_core.snmp.audit import control_with_audit
from else_core.snmp.client import SnmpManager, targets_from_config
from else_core.snmp.model import valid_queue_id
from webui import charts

CONTROL_ACTIONS = ("flush", "hold", "release", "delete", "requeue")
AUDIT_PAGE = 200


def install(
    app: Bottle,
    *,
    render: Callable[..., str],
    settings: Any,
    ctx: Callable[[], Any],
    form: Callable[..., str],
    query: Callable[..., str],
    csv: Callable[..., str],
) -> None:
    def me() -> str:
        return ctx().user.username

    def audit(action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        accounts.audit(ctx().db, me(), action, target, "ok", detail)

    # -- users ---------------------------------------------------------------------------

    @app.get("/admin", auth="admin")
    def admin_home() -> Any:
        redirect("/admin/users", 303)

    @app.get("/admin/users", auth="admin")
    def users_page() -> str:
        c = ctx()
        users = accounts.list_users(c.db)
        locked = {u.username: accounts.locked_until(c.db, u) for u in users}
        return render(
            "admin_users.html",
            users=users,
            locked=locked,
            groups=accounts.list_groups(c.db),
            tokens=accounts.list_tokens(c.db),
        )

    @app.post("/admin/users", auth="admin")
    def user_add() -> Any:
        c = ctx()
        name = form("username").strip()
        user = accounts.add_user(
            c.db,
            name,
            form("password"),
            is_admin=form("admin") == "on",
            email=form("email").strip() or None,
        )
        audit("user.add", user.username, {"admin": user.is_admin})
        c.flash(f"User {user.username} created.")
        redirect("/admin/users", 303)

    @app.post("/admin/users/<name>/<what>", auth="admin")
    def user_change(name: str, what: str) -> Any:
        c = ctx()
        if what == "password":
            accounts.set_password(c.db, name, form("password"))
            c.flash(f"Password of {name} set; the account is unlocked.")
        elif what == "unlock":
            accounts.unlock(c.db, name)
            c.flash(f"{name} unlocked.")
        elif what == "delete":
            if name == me():
                raise accounts.AccountError("you cannot delete your own account")
            accounts.delete_user(c.db, name)
            c.flash(f"User {name} deleted.")
        elif what == "update":
            if name == me() and form("admin") != "on":
                raise accounts.AccountError("you cannot take away your own admin rights")
            accounts.update_user(
                c.db, name, is_admin=form("admin") == "on", active=form("active") == "on"
            )
            c.flash(f"User {name} updated.")
        elif what == "token":
            token = accounts.create_token(c.db, name, form("name") or "api")
            audit("token.create", name, {"name": form("name") or "api"})
            response.set_header("Cache-Control", "no-store")
            return render("token.html", username=name, token=token)
        elif what == "revoke":
            accounts.revoke_token(c.db, name, form("prefix"))
            c.flash(f"Token {form('prefix')} of {name} revoked.")
        else:
            raise HTTPError(404, "no such action")
        audit(f"user.{what}", name)
        redirect("/admin/users", 303)

    # -- groups --------------------------------------------------------------------------

    @app.get("/admin/groups", auth="admin")
    def groups_page() -> str:
        c = ctx()
        known = sorted(
            {s.name for s in settings.config.servers}
            | {r[0] for r in c.db.execute("SELECT name FROM servers").fetchall()}
        )
        return render(
            "admin_groups.html",
            groups=accounts.list_groups(c.db),
            users=accounts.list_users(c.db),
            servers=known,
        )

    @app.post("/admin/groups", auth="admin")
    def group_add() -> Any:
        c = ctx()
        name = form("name")
        accounts.add_group(c.db, name, form("description"))
        audit("group.add", name.strip())
        c.flash(f"Group {name.strip()} created.")
        redirect("/admin/groups", 303)

    @app.post("/admin/groups/<name>/<what>", auth="admin")
    def group_change(name: str, what: str) -> Any:
        c = ctx()
        kind, value = form("kind"), form("value")
        if what == "bind":
            value = accounts.group_add(c.db, name, kind, value)
            c.flash(f"Group {name}: added {kind} {value}.")
        elif what == "unbind":
            accounts.group_remove(c.db, name, kind, value)
            c.flash(f"Group {name}: removed {kind} {value}.")
        elif what == "delete":
            accounts.delete_group(c.db, name)
            c.flash(f"Group {name} deleted.")
        else:
            raise HTTPError(404, "no such action")
        audit(f"group.{what}", name, {"kind": kind, "value": value} if kind else None)
        redirect("/admin/groups", 303)

    # -- audit log -----------------------------------------------------------------------

    def _audit_rows() -> list[dict[str, Any]]:
        c = ctx()
        actor, action = query("actor").strip(), query("action").strip()
        with c.db.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT at, actor, action, target, result, detail FROM audit_log"
                " WHERE (%s = '' OR actor = %s) AND (%s = '' OR action LIKE %s)"
                " ORDER BY at DESC, id DESC LIMIT %s",
                (actor, actor, action, action.replace("%", r"\%") + "%", AUDIT_PAGE),
            ).fetchall()

    @app.get("/admin/audit", auth="admin")
    def audit_page() -> str:
        return render(
            "admin_audit.html", rows=_audit_rows(), actor=query("actor"), action=query("action")
        )

    @app.get("/admin/audit.csv", auth="admin")
    def audit_csv() -> str:
        tz = ctx().tz
        rows = [
            (
                r["at"].astimezone(tz).isoformat(),
                r["actor"],
                r["action"],
                r["target"],
                r["result"],
                r["detail"],
            )
            for r in _audit_rows()
        ]
        return csv(rows, ("at", "actor", "action", "target", "result", "detail"), "else-audit.csv")

    # -- servers -------------------------------------------------------------------------

    def _servers() -> list[dict[str, Any]]:
        c = ctx()
        with c.db.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT s.name, s.address, s.role, s.snmp_enabled, s.down, s.last_poll,"
                " s.last_ok, s.last_error, s.consecutive_failures,"
                " (SELECT metrics FROM snmp_samples x WHERE x.server = s.name AND x.ok"
                "  ORDER BY x.at DESC LIMIT 1) AS metrics FROM servers s ORDER BY s.name"
            ).fetchall()
        by_name = {r["name"]: r for r in rows}
        for s in settings.config.servers:
            by_name.setdefault(
                s.name,
                {
                    "name": s.name,
                    "address": s.address,
                    "role": s.role,
                    "snmp_enabled": True,
                    "down": None,
                    "last_poll": None,
                    "last_ok": None,
                    "last_error": None,
                    "consecutive_failures": 0,
                    "metrics": None,
                },
            )
        return [by_name[k] for k in sorted(by_name)]

    def _samples(name: str, hours: int) -> list[tuple[datetime, dict[str, Any] | None]]:
        since = datetime.now(UTC) - timedelta(hours=hours)
        return [
            (r[0], r[1])
            for r in ctx()
            .db.execute(
                "SELECT at, metrics FROM snmp_samples WHERE server = %s AND at >= %s AND ok"
                " ORDER BY at",
                (name, since),
            )
            .fetchall()
        ]

    @app.get("/servers", auth="admin")
    def servers_page() -> str:
        # Sent vs received log lines per PFX over the last 24 h (issue 11): an incomplete
        # server means ELSE's answers about its mail may be incomplete.
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
        if query("queue") != "no":
            try:
                target = targets_from_config(settings.config, name)[0]

                async def fetch() -> Any:
                    async with SnmpManager() as manager:
                        return await manager.queue(target)

                listing = asyncio.run(fetch())
            except ElseError as exc:
                error = str(exc)
        hours = _hours()
        return render(
            "server.html",
            s=server,
            listing=listing,
            error=error,
            hours=hours,
            actions=CONTROL_ACTIONS,
        )

    def _hours() -> int:
        try:
            return max(1, min(int(query("hours") or 24), 24 * 31))
        except ValueError:
            return 24

    @app.get("/servers/<name>/queues.svg", auth="admin")
    def server_chart(name: str) -> bytes:
        _one(name)
        hours = _hours()
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
        action = form("action")
        queue_id = form("queue_id").strip() or None
        back = form("back")
        back = back if back.startswith("/") and not back.startswith("//") else f"/servers/{name}"
        if action not in CONTROL_ACTIONS:
            raise HTTPError(400, "unknown action")
        if queue_id is not None and not valid_queue_id(queue_id):
            raise HTTPError(400, "not a Postfix queue ID")
        if action != "flush" and queue_id is None:
            raise HTTPError(400, f"{action} needs a queue ID")
        if form("confirm") != "yes":
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
