"""Admin pages: users, groups and the audit log.

Everything here is for administrators only (the route option ``auth="admin"``, checked
by the request plugin before the handler runs), and every change is a POST with the
CSRF token, written to ``audit_log`` with who, what, when and the result.
"""

from __future__ import annotations

import json
from typing import Any

from bottle import Bottle, HTTPError, redirect, response

from else_core import accounts
from else_core import audit as audit_log
from else_core import servers as servers_mod
from webui.context import csv_response, ctx, f, q, render, settings_of

AUDIT_PAGE = 200
TRUST_WORDS = {
    "trusted": "only for authenticated mail or mail from the group's networks",
    "any": "for every e-mail (MAIL FROM can be forged)",
}


def me() -> str:
    user = ctx().user
    assert user is not None
    return user.username


def audit(action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    accounts.audit(ctx().primary, me(), action, target, "ok", detail)


def install(app: Bottle) -> None:
    settings = settings_of(app)

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
            token_days=accounts.TOKEN_DAYS,
            max_token_days=accounts.MAX_TOKEN_DAYS,
            now=accounts.now(),
        )

    @app.post("/admin/users", auth="admin")
    def user_add() -> Any:
        c = ctx()
        name = f("username").strip()
        user = accounts.add_user(
            c.primary,
            name,
            f("password"),
            is_admin=f("admin") == "on",
            email=f("email").strip() or None,
        )
        audit("user.add", user.username, {"admin": user.is_admin})
        c.flash(f"User {user.username} created.")
        redirect("/admin/users", 303)

    @app.post("/admin/users/<name>/<what>", auth="admin")
    def user_change(name: str, what: str) -> Any:
        c = ctx()
        if what == "password":
            accounts.set_password(c.primary, name, f("password"))
            c.flash(f"Password of {name} set; the account is unlocked, its API tokens revoked.")
        elif what == "unlock":
            accounts.unlock(c.primary, name)
            c.flash(f"{name} unlocked.")
        elif what == "delete":
            if name == me():
                raise accounts.AccountError("you cannot delete your own account")
            accounts.delete_user(c.primary, name)
            c.flash(f"User {name} deleted.")
        elif what == "update":
            if name == me() and f("admin") != "on":
                raise accounts.AccountError("you cannot take away your own admin rights")
            accounts.update_user(
                c.primary, name, is_admin=f("admin") == "on", active=f("active") == "on"
            )
            c.flash(f"User {name} updated.")
        elif what == "token":
            days = accounts.token_days(f("days"))
            token = accounts.create_token(c.primary, name, f("name") or "api", days=days)
            audit("token.create", name, {"name": f("name") or "api", "days": days})
            response.set_header("Cache-Control", "no-store")
            return render("token.html", username=name, token=token)
        elif what == "revoke":
            accounts.revoke_token(c.primary, name, f("prefix"))
            c.flash(f"Token {f('prefix')} of {name} revoked.")
        else:
            raise HTTPError(404, "no such action")
        audit(f"user.{what}", name)
        redirect("/admin/users", 303)

    # -- groups --------------------------------------------------------------------------

    @app.get("/admin/groups", auth="admin")
    def groups_page() -> str:
        c = ctx()
        known = servers_mod.known_names(c.db, settings.config)
        return render(
            "admin_groups.html",
            groups=accounts.list_groups(c.db),
            users=accounts.list_users(c.db),
            servers=known,
            trust_words=TRUST_WORDS,
        )

    @app.post("/admin/groups", auth="admin")
    def group_add() -> Any:
        c = ctx()
        name = f("name")
        accounts.add_group(c.primary, name, f("description"))
        audit("group.add", name.strip())
        c.flash(f"Group {name.strip()} created.")
        redirect("/admin/groups", 303)

    @app.post("/admin/groups/<name>/<what>", auth="admin")
    def group_change(name: str, what: str) -> Any:
        c = ctx()
        kind, value = f("kind"), f("value")
        if what == "bind":
            # issue 15: a group bound to a server that does not exist would see nothing
            known = servers_mod.known_names(c.db, settings_of(app).config)
            if kind == "server" and value.strip() not in known:
                raise accounts.AccountError(f"no server {value.strip()!r}: use {', '.join(known)}")
            value = accounts.group_add(c.primary, name, kind, value)
            c.flash(f"Group {name}: added {kind} {value}.")
        elif what == "unbind":
            accounts.group_remove(c.primary, name, kind, value)
            c.flash(f"Group {name}: removed {kind} {value}.")
        elif what == "trust":
            value = accounts.set_sender_trust(c.primary, name, value)
            kind = "sender_trust"
            c.flash(f"Group {name}: senders count {TRUST_WORDS[value]}.")
        elif what == "delete":
            accounts.delete_group(c.primary, name)
            c.flash(f"Group {name} deleted.")
        else:
            raise HTTPError(404, "no such action")
        audit(f"group.{what}", name, {"kind": kind, "value": value} if kind else None)
        redirect("/admin/groups", 303)

    # -- audit log -----------------------------------------------------------------------

    def _audit_rows() -> list[dict[str, Any]]:
        return audit_log.entries(ctx().db, q("actor"), q("action"), AUDIT_PAGE)

    @app.get("/admin/audit", auth="admin")
    def audit_page() -> str:
        return render("admin_audit.html", rows=_audit_rows(), actor=q("actor"), action=q("action"))

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
                json.dumps(r["detail"], ensure_ascii=False) if r["detail"] is not None else "",
            )
            for r in _audit_rows()
        ]
        return csv_response(
            rows, ("at", "actor", "action", "target", "result", "detail"), "else-audit.csv"
        )
