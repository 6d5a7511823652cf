"""The request plugin: session cookie, authentication, CSRF, access level, errors.

Every route declares who may call it with the route option ``auth``: ``"none"``
(public), ``"user"`` (the default) or ``"admin"``. Before the handler runs, the plugin
loads the signed session cookie (or the API's bearer token), makes the request's
:class:`~webui.context.Ctx`, refuses what the route does not allow (a log-in redirect,
401 for the API, 403 for non-admins) and checks the CSRF token of every state change.
After it, it saves a changed session and closes the request's database connection.
Errors a user can act on become 400 (JSON for the API); an unreachable database 503.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable
from functools import wraps
from typing import Any

from bottle import Bottle, HTTPError, HTTPResponse, request, response

from else_core import accounts
from else_core.db import UNREACHABLE
from else_core.db.routing import ReadOnly
from else_core.search import SearchError
from webui.context import Ctx, Settings, env_of, json_response
from webui.security import COOKIE, SessionCodec, csrf_ok, new_csrf

log = logging.getLogger("else.webui")
ERROR_CODES = (400, 401, 403, 404, 405, 413, 414, 429, 500, 503)
#: The longest parameter value accepted (a pasted list of 1000 Message-IDs fits).
MAX_VALUE = 100_000
#: Control characters no parameter may carry (tab, newline and carriage return may:
#: a pasted list of Message-IDs has them). PostgreSQL text cannot hold NUL at all.
_CONTROL = frozenset(chr(i) for i in (*range(32), 127)) - {"\t", "\n", "\r"}


def bad_input(items: list[tuple[str, str, str]]) -> str | None:
    """Why one of ``(where, name, value)`` is refused, or None. Values are the raw
    latin-1 strings of the WSGI layer; valid UTF-8 is checked here, so that nothing
    downstream sees replacement characters or NUL bytes (which PostgreSQL refuses)."""
    for where, name, raw in items:
        for what, text in (("name", name), ("value", raw)):
            try:
                decoded = text.encode("latin1").decode("utf-8")
            except UnicodeError:
                return f"{where} parameter {what} is not valid UTF-8"
            if len(decoded) > MAX_VALUE:
                return (
                    f"{where} parameter {name[:40]!r} is too long (at most {MAX_VALUE} characters)"
                )
            if not _CONTROL.isdisjoint(decoded):
                return f"{where} parameter {name[:40]!r} contains a control character (NUL...)"
    return None


def _check_input(kwargs: dict[str, Any]) -> None:
    """400 for a NUL byte, a control character, invalid UTF-8 or a huge value anywhere
    in the request's parameters or path, before any handler or query sees it."""
    items = [("query", k, v) for k, v in request.query.allitems()]
    if request.method not in ("GET", "HEAD"):
        items += [("form", k, v) for k, v in request.forms.allitems()]
    # Path arguments are already decoded text (bottle refuses a path that is not UTF-8).
    path = [
        ("path", k, str(v).encode("utf-8", "surrogatepass").decode("latin1"))
        for k, v in kwargs.items()
    ]
    why = bad_input(items + path)
    if why:
        raise HTTPError(400, why)


def _is_api(rule: str) -> bool:
    return rule.startswith("/api/")


class SessionPlugin:
    """Bottle plugin (API v2) applying the rules above to every route."""

    name = "else-session"
    api = 2

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.codec = SessionCodec(settings.secret, settings.session_max_age)

    def save(self, c: Ctx) -> None:
        response.set_cookie(
            COOKIE,
            self.codec.dumps(c.session),
            path="/",
            httponly=True,
            secure=self.settings.secure_cookies,
            samesite="lax",
            max_age=self.settings.session_max_age,
        )

    def apply(self, callback: Callable[..., Any], route: Any) -> Callable[..., Any]:
        @wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            rt = request.environ["bottle.route"]
            need = rt.config.get("auth", "user")
            session = self.codec.loads(request.get_cookie(COOKIE)) or {}
            fresh = "c" not in session
            if fresh:
                session = {"c": new_csrf()}
            c = Ctx(self.settings, session, dirty=fresh)
            request.environ["else.ctx"] = c
            try:
                _check_input(kwargs)
                if need != "none":
                    self._require(c, need, api=_is_api(rt.rule))
                if request.method not in ("GET", "HEAD"):
                    sent = request.forms.getunicode("csrf") or request.get_header("X-CSRF-Token")
                    if not csrf_ok(session, sent):
                        raise HTTPError(403, "missing or wrong CSRF token; reload the page")
                try:
                    out = callback(*args, **kwargs)
                except (SearchError, accounts.AccountError) as exc:
                    if _is_api(rt.rule):
                        out = json_response({"error": str(exc)}, 400)
                    else:
                        raise HTTPError(400, str(exc)) from None
                except ReadOnly as exc:
                    if _is_api(rt.rule):
                        out = json_response({"error": str(exc), "read_only": True}, 503)
                    else:
                        raise HTTPError(503, str(exc)) from None
                except UNREACHABLE:
                    log.exception("database error")
                    raise HTTPError(503, "the database is not reachable; try again") from None
                c.remember_writes()
                if c.dirty and not c.via_token and not rt.rule.startswith("/static/"):
                    self.save(c)
                return out
            except HTTPResponse as resp:
                c.remember_writes()
                if c.dirty and not c.via_token:
                    self.save(c)
                    for value in response.headerlist:
                        if value[0] == "Set-Cookie":
                            resp.add_header("Set-Cookie", value[1])
                raise
            finally:
                c.close()

        return wrapper

    def _require(self, c: Ctx, need: str, api: bool) -> None:
        """A user (an admin for ``need == "admin"``), else the refusal the client expects."""
        authenticate(c, api=api)
        if c.user is None:
            if api:
                raise HTTPResponse(
                    json_response({"error": "authentication required"}, 401),
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="else"'},
                )
            nxt = request.fullpath if request.method == "GET" else "/"
            raise HTTPResponse(
                status=303,
                headers={"Location": "/login?" + urllib.parse.urlencode({"next": nxt})},
            )
        if need == "admin" and not c.user.is_admin:
            raise HTTPError(403, "administrators only")


def authenticate(c: Ctx, api: bool) -> None:
    """The request's user: the API's bearer token, else the session's (still valid) user."""
    auth = request.get_header("Authorization", "")
    if api and auth.lower().startswith("bearer "):
        try:  # a token's use is recorded on the primary; without it, checked on the standby
            user = accounts.user_for_token(c.primary, auth[7:].strip())
        except ReadOnly:
            user = accounts.user_for_token(c.db, auth[7:].strip(), touch=False)
        c.user, c.via_token = user, True
        return
    uid = c.session.get("u")
    if not isinstance(uid, int):
        return
    user = accounts.get_user_by_id(c.db, uid)
    if (
        user is None
        or not user.active
        or c.session.get("v") != user.session_version
        or accounts.session_ended(c.db, user.username, str(c.session.get("s", "")))
    ):
        c.session = {"c": new_csrf()}
        c.dirty = True
        return
    c.user = user


def error_page(err: HTTPError) -> str:
    """Errors as JSON for the API, as a page (that needs no session) for people."""
    if request.path.startswith("/api/"):
        response.content_type = "application/json"
        return json.dumps({"error": str(err.body), "status": err.status_code})
    response.content_type = "text/html; charset=utf-8"
    return (
        env_of(request.app)
        .get_template("error.html")
        .render(
            status=err.status_code,
            message=str(err.body),
            user=None,
            csrf="",
            path="",
            tzname="UTC",
        )
    )


def install(app: Bottle, settings: Settings) -> None:
    app.install(SessionPlugin(settings))
    for code in ERROR_CODES:
        app.error(code)(error_page)
