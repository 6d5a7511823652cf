"""Public routes: health check, static files, log-in and log-out."""

from __future__ import annotations

from typing import Any

from bottle import Bottle, HTTPResponse, request, response, static_file

from else_core import accounts
from else_core.db.routing import ReadOnly
from webui.context import HERE, TIMEZONES_SET, ctx, f, q, render, settings_of
from webui.security import new_csrf

#: app.config key of the accounts.LoginLimits in force (tests set stricter or looser ones)
LIMITS_KEY = "else.login_limits"
WRONG = "Wrong user name or password."
THROTTLED = (
    "Too many log-in attempts from your address for this name or in all. Wait a few"
    " minutes and try again, or ask an administrator."
)


def safe_next(value: str) -> str:
    """Only a local path: no open redirect to another site.

    Browsers drop tabs and newlines from URLs (``/\t/host`` becomes ``//host``, another
    site) and treat ``\\`` like ``/``; a newline in a Location header is also a header
    injection. So any whitespace, control character or backslash makes it "no next page".
    """
    if (
        value.startswith("/")
        and not value.startswith("//")
        and not any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in value)
    ):
        return value[:2000]
    return ""


def install(app: Bottle) -> None:
    settings = settings_of(app)

    @app.get("/healthz", auth="none")
    def healthz() -> dict[str, str]:
        response.set_header("Cache-Control", "no-store")
        return {"status": "ok"}

    @app.get("/static/<name:path>", auth="none")
    def static(name: str) -> Any:
        resp = static_file(name, root=str(HERE / "static"))
        resp.set_header("Cache-Control", "public, max-age=3600")
        return resp

    @app.get("/login", auth="none")
    def login_form() -> str:
        return render("login.html", next=safe_next(q("next")), error=None)

    @app.post("/login", auth="none")
    def login() -> Any:
        c = ctx()
        # REMOTE_ADDR, not bottle's remote_addr: that one believes X-Forwarded-For, which
        # any client can send to get a fresh address for every guess.
        result = accounts.authenticate(
            c.primary,  # a log-in writes (throttle, last log-in): the primary only
            f("username"),
            f("password"),
            source=request.environ.get("REMOTE_ADDR") or "",
            limits=app.config.get(LIMITS_KEY),
        )
        if result.user is None:
            # The same answers for real and unknown names: the throttle counts both alike.
            msg = THROTTLED if result.reason in ("locked", "busy") else WRONG
            response.status = 429 if result.reason in ("locked", "busy") else 401
            if response.status_code == 429:
                response.set_header("Retry-After", str(accounts.LOCK_SECONDS))
            return render("login.html", next=safe_next(f("next")), error=msg)
        # The zone saved on the account wins over the browser's guess sent with the form.
        tz = result.user.timezone or f("tz")
        c.session = {
            "u": result.user.id,
            "v": result.user.session_version,
            "c": new_csrf(),  # a new token at login: no session fixation
            "s": new_csrf(),  # the session's id (a log-out revokes it)
            "tz": tz if tz in TIMEZONES_SET else settings.default_tz,
        }
        c.dirty = True
        raise HTTPResponse(status=303, headers={"Location": safe_next(f("next")) or "/search"})

    @app.post("/logout", auth="none")
    def logout() -> Any:
        c = ctx()
        if c.session.get("u"):
            uid = c.session.get("u")
            user = accounts.get_user_by_id(c.db, uid) if isinstance(uid, int) else None
            if user:
                # The cookie is self-contained: the audit row with its session id is what
                # makes a copy of it useless after the log-out.
                try:
                    accounts.audit(
                        c.primary,
                        user.username,
                        "logout",
                        user.username,
                        detail={"sid": str(c.session.get("s", ""))},
                    )
                except ReadOnly:
                    # This browser is logged out all the same; a copy of the cookie is
                    # not revoked until it expires (the backend keeps the revocations).
                    c.flash(
                        "Logged out here; the backend is unreachable, so the session"
                        " could not be revoked everywhere.",
                        "error",
                    )
        c.session = {"c": new_csrf(), **({"f": c.session["f"]} if "f" in c.session else {})}
        c.dirty = True
        raise HTTPResponse(status=303, headers={"Location": "/login"})
