"""The user's own account: password, time zone, groups and tokens."""

from __future__ import annotations

from typing import Any

from bottle import Bottle, redirect

from else_core import accounts
from webui.context import TIMEZONES, ctx, f, render, settings_of
from webui.security import new_csrf


def install(app: Bottle) -> None:
    settings = settings_of(app)

    @app.get("/account")
    def account() -> str:
        c = ctx()
        assert c.user is not None
        return render(
            "account.html",
            timezones=TIMEZONES,
            default_tz=settings.default_tz,
            groups=accounts.list_groups(c.db, c.user.id),
            tokens=accounts.list_tokens(c.db, c.user.username),
            now=accounts.now(),
        )

    @app.post("/account/password")
    def account_password() -> Any:
        c = ctx()
        assert c.user is not None
        new = f("new")
        if new != f("again"):
            raise accounts.AccountError("the two new passwords differ")
        accounts.change_password(c.primary, c.user.username, f("old"), new)
        accounts.audit(c.primary, c.user.username, "user.password", c.user.username)
        user = accounts.get_user_by_id(c.primary, c.user.id)  # just written
        assert user is not None
        c.session.update(v=user.session_version, c=new_csrf())
        c.flash("Password changed. Other sessions of this account have ended.")
        redirect("/account", 303)

    @app.post("/account/tz")
    def account_tz() -> Any:
        c = ctx()
        assert c.user is not None
        # Saved on the account (so the next log-in has it too); empty: the site default.
        zone = accounts.set_timezone(c.primary, c.user.username, f("tz"))
        c.session["tz"] = zone or settings.default_tz
        if zone:
            c.flash(f"Times are now shown in {zone}, also after your next log-in.")
        else:
            c.flash(f"Times are now shown in the site's default zone, {settings.default_tz}.")
        redirect("/account", 303)
