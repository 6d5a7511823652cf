"""The Bottle application: pages, the JSON API, authentication and access control.

Layout of a request: :class:`ElseApp` adds the security headers to every response
(pages, API, static files, error pages alike); the ``_ctx`` plugin opens one database
connection per request (as the ``else_web`` role), loads the session or the bearer
token, enforces login/admin/CSRF as the route declares, and closes the connection.
Everything a user may see goes through :mod:`else_core.search` (or :mod:`reportdata`)
with the user's :class:`~else_core.search.Scope`, which the SQL enforces.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bottle import Bottle, HTTPError, HTTPResponse, redirect, request, response, static_file
from jinja2 import Environment, FileSystemLoader, select_autoescape

from else_core import accounts, history, stats
from else_core import config as config_mod
from else_core import servers as servers_mod
from else_core.db import UNREACHABLE, Connection, connect
from else_core.search import (
    EMAIL_FIELDS,
    EMAIL_SORTS,
    REJECT_FIELDS,
    Filter,
    Query,
    Scope,
    SearchError,
    email_detail,
    parse_time,
    search_emails,
    search_rejects,
    summary,
)
from else_core.snmp.model import valid_queue_id
from webui import charts, explain
from webui.security import (
    COOKIE,
    SessionCodec,
    csrf_ok,
    load_secret,
    new_csrf,
    security_headers,
)

log = logging.getLogger("else.webui")
HERE = Path(__file__).resolve().parent
DEFAULT_SECRET_FILE = "/etc/else/web-secret"  # noqa: S105 - a path, not a secret
PAGE_SIZES = (25, 50, 100, 200)
EXPORT_MAX = 10000
ADDRESS = re.compile(r"<?([^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)>?")
TIMEZONES = sorted(available_timezones())
TIMEZONES_SET = frozenset(TIMEZONES)
STATUSES = (
    "delivered",
    "deferred",
    "bounced",
    "expired",
    "rejected",
    "discarded",
    "held",
    "deleted",
    "queued",
    "mixed",
)
OPERATOR_LABELS = {
    "equals": "is",
    "not": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts": "starts with",
    "ends": "ends with",
    "gt": ">",
    "lt": "<",
    "ge": ">=",
    "le": "<=",
}
#: Query parameters of the API and the search page that are not filters.
RESERVED = {"since", "until", "limit", "cursor", "sort", "q", "f", "o", "v", "tz", "format"}


@dataclass(slots=True)
class Settings:
    dsn: str
    secret: bytes
    secure_cookies: bool
    config: config_mod.Config
    default_tz: str = "UTC"
    session_max_age: int = 12 * 3600


@dataclass(slots=True)
class Ctx:
    """Per-request state: connection, session, user and scope."""

    settings: Settings
    session: dict[str, Any]
    conn: Connection | None = None
    user: accounts.User | None = None
    via_token: bool = False
    dirty: bool = False
    _scope: Any = field(default=None)
    _scope_loaded: bool = False

    @property
    def db(self) -> Connection:
        if self.conn is None:
            self.conn = connect(self.settings.dsn, autocommit=True)
        return self.conn

    @property
    def scope(self) -> Scope | None:
        if not self._scope_loaded:
            assert self.user is not None
            self._scope = accounts.scope_for(self.db, self.user)
            self._scope_loaded = True
        return self._scope

    @property
    def tz(self) -> ZoneInfo:
        """``?tz=`` for this request, else the session's zone (set at log-in from the
        account), else the account's saved zone (API tokens have no session), else the
        site's; a name that does not load is skipped, not an error."""
        saved = self.user.timezone if self.user else None
        for name in (request.query.get("tz"), self.session.get("tz"), saved):
            if name and str(name) in TIMEZONES_SET:
                return ZoneInfo(str(name))
        try:
            return ZoneInfo(self.settings.default_tz)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def flash(self, text: str, kind: str = "ok") -> None:
        self.session["f"] = [kind, text[:500]]
        self.dirty = True


class ElseApp(Bottle):
    """Bottle plus the security headers on every response, whatever produced it."""

    secure_cookies = True

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not self.secure_cookies and not _is_loopback(environ.get("REMOTE_ADDR", "")):
            # Plain-HTTP mode (elsectl serve --insecure-http, tests) serves loopback only:
            # a session cookie must not cross a network unencrypted.
            body = b"plain-HTTP mode answers loopback clients only\n"
            start_response(
                "403 Forbidden",
                [
                    ("Content-Type", "text/plain"),
                    ("Content-Length", str(len(body))),
                    *security_headers("text/plain", False),
                ],
            )
            return [body]

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
            names = {k.lower() for k, _ in headers}
            extra = [
                h for h in security_headers(ctype, self.secure_cookies) if h[0].lower() not in names
            ]
            return start_response(status, headers + extra, exc_info)

        return self.wsgi(environ, start)


def _is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


def _ctx() -> Ctx:
    return request.environ["else.ctx"]


def _q(name: str, default: str = "") -> str:
    value = request.query.getunicode(name)
    return default if value is None else value


def _f(name: str, default: str = "") -> str:
    value = request.forms.getunicode(name)
    return default if value is None else value


# -- formatting ----------------------------------------------------------------------------


def _as_dt(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def fmt_time(value: Any, tz: ZoneInfo, seconds: bool = True) -> str:
    dt = _as_dt(value)
    if dt is None:
        return ""
    local = dt.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + (
        f" {local.tzname()}" if seconds else ""
    )


def fmt_size(value: Any) -> str:
    if value is None or value == "":
        return ""
    n = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(value)


def fmt_delay(value: Any) -> str:
    if value is None or value == "":
        return ""
    s = float(value)
    if s < 60:
        return f"{s:g} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    if s < 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


# -- search parameters ------------------------------------------------------------------------


def _parse_when(text: str, tz: ZoneInfo | None, end: bool = False) -> datetime:
    """API: ISO 8601, naive = UTC. Pages: a naive value is the user's local time."""
    text = text.strip()
    if tz is not None and len(text) > 10 and not re.search(r"(Z|[+-]\d\d:?\d\d)$", text):
        try:
            return datetime.fromisoformat(text).replace(tzinfo=tz)
        except ValueError:
            pass
    if tz is not None and len(text) == 10:
        try:
            day = datetime.fromisoformat(text).replace(tzinfo=tz)
        except ValueError:
            raise SearchError(f"invalid date {text!r}") from None
        return day + timedelta(days=1) if end else day
    return parse_time(text, end=end)


def build_query(params: Any, tz: ZoneInfo | None, fields: dict[str, Any]) -> Query:
    """A search :class:`Query` from request parameters (the API's and the pages')."""
    q = Query()
    if params.get("since"):
        q.since = _parse_when(params.getunicode("since") or "", tz)
    if params.get("until"):
        q.until = _parse_when(params.getunicode("until") or "", tz, end=True)
    for name in fields:
        for raw in params.getall(name):
            value = raw.encode("latin1").decode("utf-8", "replace")
            if value.strip():
                op = params.getunicode(f"{name}_op") or "equals"
                q.filters.append(Filter(name, value, op))
    # The extended form: rows of field/operator/value.
    fs, os_, vs = params.getall("f"), params.getall("o"), params.getall("v")
    for f, o, raw in zip(fs, os_, vs, strict=False):
        v = raw.encode("latin1").decode("utf-8", "replace")
        if f and v.strip():
            q.filters.append(Filter(f, v, o or "equals"))
    ids = params.getunicode("message_ids")
    if ids:
        q.message_ids = [m for m in re.split(r"[\s,]+", ids) if m.strip("<>")][:1000]
    try:
        q.limit = max(1, min(int(params.get("limit") or 50), 1000))
    except ValueError:
        raise SearchError("limit must be a number") from None
    q.after = params.getunicode("cursor") or None
    sort = params.getunicode("sort") or "-time"
    if sort.lstrip("-") in EMAIL_SORTS:
        q.sort = sort
    return q


def check_api_params(params: Any, fields: dict[str, Any]) -> None:
    """The API refuses a parameter it does not know (a typo must not widen a search)."""
    known = {"since", "until", "limit", "cursor", "sort", "message_ids"}
    known |= set(fields) | {f"{name}_op" for name in fields}
    unknown = sorted(set(params.keys()) - known)
    if unknown:
        raise SearchError(f"unknown parameter {unknown[0]!r}")


def classify_quick(text: str) -> tuple[str, str] | None:
    """What the quick box was given: a Message-ID, a queue ID, an address or a domain."""
    t = text.strip()
    if not t:
        return None
    if t.startswith("<") and t.endswith(">") and "@" in t:
        return ("message_id", t.strip("<>"))
    if valid_queue_id(t):
        return ("queue_id", t)
    m = ADDRESS.fullmatch(t)
    if m:
        return ("address", m.group(1))
    if re.fullmatch(r"@?[A-Za-z0-9.-]+\.[A-Za-z]{2,}", t):
        return ("domain", t.lstrip("@"))
    if "@" in t:
        return ("message_id", t.strip("<>"))
    try:
        ipaddress.ip_address(t)
        return ("client", t)
    except ValueError:
        pass
    return ("message_id_part", t)


def _quick_filter(kind: tuple[str, str]) -> Filter:
    name, value = kind
    if name == "message_id_part":
        return Filter("message_id", value, "contains")
    return Filter(name, value)


def _query_string(params: dict[str, Any] | Iterable[tuple[str, Any]], **changes: Any) -> str:
    items = list(params.items() if isinstance(params, dict) else params)
    keys = set(changes)
    out = [(k, v) for k, v in items if k not in keys and v not in (None, "")]
    out += [(k, v) for k, v in changes.items() if v not in (None, "")]
    return urllib.parse.urlencode(out)


def _request_items() -> list[tuple[str, str]]:
    return [(k, v.encode("latin1").decode("utf-8", "replace")) for k, v in request.query.allitems()]


def _pairs(query: Any) -> list[tuple[str, str]]:
    """A stored search (a list of [name, value] pairs; repeated names are kept)."""
    if isinstance(query, dict):
        query = list(query.items())
    return [(str(p[0]), str(p[1])) for p in query if isinstance(p, list | tuple) and len(p) == 2]


def _csv_cell(value: Any) -> str:
    """Log data opened in a spreadsheet must not become a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(rows: Iterable[Iterable[Any]], header: Iterable[str], filename: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(list(header))
    for row in rows:
        w.writerow([_csv_cell(v) for v in row])
    response.content_type = "text/csv; charset=utf-8"
    response.set_header("Content-Disposition", f'attachment; filename="{filename}"')
    return buf.getvalue()


def _json(obj: Any, status: int = 200) -> str:
    response.status = status
    response.content_type = "application/json"
    response.set_header("Cache-Control", "no-store")  # per-user answers
    return json.dumps(obj, default=str)


# -- the application --------------------------------------------------------------------------


def create_app(
    config: config_mod.Config | None = None,
    *,
    dsn: str | None = None,
    secret: bytes | None = None,
    secure_cookies: bool | None = None,
) -> ElseApp:
    """The WUI. With no arguments (mod_wsgi) everything comes from /etc/else/else.toml.

    ``secure_cookies=False`` allows plain HTTP (``elsectl serve`` on loopback, tests);
    otherwise ``[web] insecure_http = true`` must say so in the file.
    """
    cfg = config if config is not None else config_mod.load()
    web = cfg.section("web")
    if secret is None:
        secret = load_secret(web.get("secret_file", DEFAULT_SECRET_FILE))
    if secure_cookies is None:
        secure_cookies = not bool(web.get("insecure_http", False))
    settings = Settings(
        dsn=cfg.dsn(dsn, role="web"),
        secret=secret,
        secure_cookies=secure_cookies,
        config=cfg,
        default_tz=str(web.get("timezone", "UTC")),
        session_max_age=int(web.get("session_max_age", 12 * 3600)),
    )
    codec = SessionCodec(secret, settings.session_max_age)
    app = ElseApp()
    app.secure_cookies = secure_cookies
    app.config["else.settings"] = settings
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        STATUSES=STATUSES,
        OPERATOR_LABELS=OPERATOR_LABELS,
        EMAIL_FIELDS=EMAIL_FIELDS,
        REJECT_FIELDS=REJECT_FIELDS,
        explain=explain,
        qs=_query_string,
        PAGE_SIZES=PAGE_SIZES,
    )
    env.filters.update(size=fmt_size, delay=fmt_delay)

    def render(template: str, **kw: Any) -> str:
        ctx = request.environ.get("else.ctx")
        tz = ctx.tz if ctx else ZoneInfo("UTC")
        flash = None
        if ctx and ctx.session.get("f"):
            flash = ctx.session.pop("f")
            ctx.dirty = True
        response.content_type = "text/html; charset=utf-8"
        response.set_header("Cache-Control", "no-store")
        return env.get_template(template).render(
            user=ctx.user if ctx else None,
            csrf=ctx.session.get("c", "") if ctx else "",
            tzname=tz.key,
            when=lambda v, seconds=True: fmt_time(v, tz, seconds),
            flash=flash,
            path=request.path,
            **kw,
        )

    def save_session(ctx: Ctx) -> None:
        response.set_cookie(
            COOKIE,
            codec.dumps(ctx.session),
            path="/",
            httponly=True,
            secure=settings.secure_cookies,
            samesite="lax",
            max_age=settings.session_max_age,
        )

    # -- the per-request plugin ------------------------------------------------------------

    def plugin(callback: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            rt = request.environ["bottle.route"]
            need = rt.config.get("auth", "user")
            session = codec.loads(request.get_cookie(COOKIE)) or {}
            fresh = "c" not in session
            if fresh:
                session = {"c": new_csrf()}
            ctx = Ctx(settings, session, dirty=fresh)
            request.environ["else.ctx"] = ctx
            try:
                if need != "none":
                    _authenticate(ctx, api=rt.rule.startswith("/api/"))
                    if ctx.user is None:
                        if rt.rule.startswith("/api/"):
                            raise HTTPResponse(
                                _json({"error": "authentication required"}, 401),
                                status=401,
                                headers={"WWW-Authenticate": 'Bearer realm="else"'},
                            )
                        nxt = request.fullpath if request.method == "GET" else "/"
                        raise HTTPResponse(
                            status=303,
                            headers={"Location": "/login?" + urllib.parse.urlencode({"next": nxt})},
                        )
                    if need == "admin" and not ctx.user.is_admin:
                        raise HTTPError(403, "administrators only")
                if request.method not in ("GET", "HEAD"):
                    sent = request.forms.getunicode("csrf") or request.get_header("X-CSRF-Token")
                    if not csrf_ok(session, sent):
                        raise HTTPError(403, "missing or wrong CSRF token; reload the page")
                try:
                    out = callback(*args, **kwargs)
                except (SearchError, accounts.AccountError) as exc:
                    if rt.rule.startswith("/api/"):
                        out = _json({"error": str(exc)}, 400)
                    else:
                        raise HTTPError(400, str(exc)) from None
                except UNREACHABLE:
                    log.exception("database error")
                    raise HTTPError(503, "the database is not reachable; try again") from None
                if ctx.dirty and not ctx.via_token and not rt.rule.startswith("/static/"):
                    save_session(ctx)
                return out
            except HTTPResponse as resp:
                if ctx.dirty and not ctx.via_token:
                    save_session(ctx)
                    for value in response.headerlist:
                        if value[0] == "Set-Cookie":
                            resp.add_header("Set-Cookie", value[1])
                raise
            finally:
                if ctx.conn is not None:
                    ctx.conn.close()

        return wrapper

    app.install(plugin)

    def _authenticate(ctx: Ctx, api: bool) -> None:
        auth = request.get_header("Authorization", "")
        if api and auth.lower().startswith("bearer "):
            user = accounts.user_for_token(ctx.db, auth[7:].strip())
            ctx.user, ctx.via_token = user, True
            return
        uid = ctx.session.get("u")
        if not isinstance(uid, int):
            return
        user = accounts.get_user_by_id(ctx.db, uid)
        if (
            user is None
            or not user.active
            or ctx.session.get("v") != user.session_version
            or accounts.session_ended(ctx.db, user.username, str(ctx.session.get("s", "")))
        ):
            ctx.session = {"c": new_csrf()}
            ctx.dirty = True
            return
        ctx.user = user

    # -- error pages -------------------------------------------------------------------------

    def error_page(err: HTTPError) -> str:
        if request.path.startswith("/api/"):
            response.content_type = "application/json"
            return json.dumps({"error": str(err.body), "status": err.status_code})
        response.content_type = "text/html; charset=utf-8"
        return env.get_template("error.html").render(
            status=err.status_code,
            message=str(err.body),
            user=None,
            csrf="",
            path="",
            tzname="UTC",
        )

    for code in (400, 401, 403, 404, 405, 500, 503):
        app.error(code)(error_page)

    # -- public routes -----------------------------------------------------------------------

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
        return render("login.html", next=_safe_next(_q("next")), error=None)

    @app.post("/login", auth="none")
    def login() -> Any:
        ctx = _ctx()
        result = accounts.authenticate(
            ctx.db, _f("username"), _f("password"), source=request.remote_addr
        )
        if result.user is None:
            msg = {
                "locked": "This account is locked for a few minutes after too many failed"
                " log-ins. Try again later or ask an administrator.",
            }.get(result.reason, "Wrong user name or password.")
            response.status = 401 if result.reason != "locked" else 429
            return render("login.html", next=_safe_next(_f("next")), error=msg)
        # The zone saved on the account wins over the browser's guess sent with the form.
        tz = result.user.timezone or _f("tz")
        ctx.session = {
            "u": result.user.id,
            "v": result.user.session_version,
            "c": new_csrf(),  # a new token at login: no session fixation
            "s": new_csrf(),  # the session's id (a log-out revokes it)
            "tz": tz if tz in TIMEZONES_SET else settings.default_tz,
        }
        ctx.dirty = True
        raise HTTPResponse(status=303, headers={"Location": _safe_next(_f("next")) or "/search"})

    @app.post("/logout", auth="none")
    def logout() -> Any:
        ctx = _ctx()
        if ctx.session.get("u"):
            uid = ctx.session.get("u")
            user = accounts.get_user_by_id(ctx.db, uid) if isinstance(uid, int) else None
            if user:
                # The cookie is self-contained: the audit row with its session id is what
                # makes a copy of it useless after the log-out.
                accounts.audit(
                    ctx.db,
                    user.username,
                    "logout",
                    user.username,
                    detail={"sid": str(ctx.session.get("s", ""))},
                )
        ctx.session = {"c": new_csrf()}
        ctx.dirty = True
        raise HTTPResponse(status=303, headers={"Location": "/login"})

    def _safe_next(value: str) -> str:
        """Only a local path: no open redirect to another site."""
        if value.startswith("/") and not value.startswith("//") and "\\" not in value:
            return value[:2000]
        return ""

    # -- account ---------------------------------------------------------------------------

    @app.get("/")
    def home() -> Any:
        redirect("/search", 303)

    @app.get("/account")
    def account() -> str:
        ctx = _ctx()
        assert ctx.user is not None
        return render(
            "account.html",
            timezones=TIMEZONES,
            default_tz=settings.default_tz,
            groups=accounts.list_groups(ctx.db, ctx.user.id),
            tokens=accounts.list_tokens(ctx.db, ctx.user.username),
        )

    @app.post("/account/password")
    def account_password() -> Any:
        ctx = _ctx()
        assert ctx.user is not None
        new = _f("new")
        if new != _f("again"):
            raise accounts.AccountError("the two new passwords differ")
        accounts.change_password(ctx.db, ctx.user.username, _f("old"), new)
        accounts.audit(ctx.db, ctx.user.username, "user.password", ctx.user.username)
        user = accounts.get_user_by_id(ctx.db, ctx.user.id)
        assert user is not None
        ctx.session.update(v=user.session_version, c=new_csrf())
        ctx.flash("Password changed. Other sessions of this account have ended.")
        redirect("/account", 303)

    @app.post("/account/tz")
    def account_tz() -> Any:
        ctx = _ctx()
        assert ctx.user is not None
        # Saved on the account (so the next log-in has it too); empty: the site default.
        zone = accounts.set_timezone(ctx.db, ctx.user.username, _f("tz"))
        ctx.session["tz"] = zone or settings.default_tz
        if zone:
            ctx.flash(f"Times are now shown in {zone}, also after your next log-in.")
        else:
            ctx.flash(f"Times are now shown in the site's default zone, {settings.default_tz}.")
        redirect("/account", 303)

    # -- search ------------------------------------------------------------------------------

    def _record_history(ctx: Ctx, items: list[tuple[str, str]], total: int | None) -> None:
        query = [[k, v] for k, v in items if k != "cursor" and v]
        if not query or ctx.via_token:
            return
        assert ctx.user is not None
        history.record(ctx.db, ctx.user.id, query, total)

    @app.get("/search")
    def search_page() -> str:
        ctx = _ctx()
        items = _request_items()
        quick = _q("q").strip()
        kind = classify_quick(quick) if quick else None
        page = None
        rows: list[dict[str, Any]] = []
        note = None
        error = None
        try:
            if kind and kind[0] == "address":
                rows, note = _address_search(ctx, kind[1])
            elif kind and kind[0] == "domain":
                rows, note = _merge(
                    ctx,
                    [
                        Query(limit=100, filters=[Filter("sender_domain", kind[1])]),
                        Query(limit=100, filters=[Filter("recipient_domain", kind[1])]),
                    ],
                )
            elif kind or any(k not in ("sort", "limit", "tz") for k, _ in items):
                q = build_query(request.query, ctx.tz, EMAIL_FIELDS)
                if kind:
                    q.filters.append(_quick_filter(kind))
                page = search_emails(ctx.db, q, ctx.scope)
            if page is not None:
                rows = page.items
            if (quick or page is not None) and not _q("cursor"):
                _record_history(ctx, items, page.total if page else len(rows))
        except SearchError as exc:
            error = str(exc)
        return render(
            "search.html",
            quick=quick,
            kind=kind[0] if kind else None,
            rows=[_row(r["doc"]) for r in rows],
            page=page,
            note=note,
            error=error,
            items=items,
            searched=bool(quick) or page is not None,
            sort=_q("sort", "-time"),
            filters=_filter_rows(items),
            since=_q("since"),
            until=_q("until"),
        )

    def _filter_rows(items: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
        fs = [v for k, v in items if k == "f"]
        os_ = [v for k, v in items if k == "o"]
        vs = [v for k, v in items if k == "v"]
        rows = list(zip(fs, os_, vs, strict=False))
        while len(rows) < 4:
            rows.append(("", "", ""))
        return rows[:8]

    def _merge(ctx: Ctx, queries: list[Query]) -> tuple[list[dict[str, Any]], str | None]:
        seen: dict[str, dict[str, Any]] = {}
        capped = False
        for q in queries:
            page = search_emails(ctx.db, q, ctx.scope)
            capped = capped or page.next_cursor is not None
            for item in page.items:
                seen.setdefault(item["id"], item)
        rows = sorted(seen.values(), key=lambda r: r["doc"].get("first_seen") or "", reverse=True)
        note = (
            "Showing the newest matches; refine with the extended search for more."
            if capped
            else None
        )
        return rows, note

    def _address_search(
        ctx: Ctx, address: str, limit: int = 100
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Sender or recipient, or a bare Message-ID (it looks just like an address)."""
        return _merge(
            ctx,
            [
                Query(limit=limit, filters=[Filter("sender", address)]),
                Query(limit=limit, filters=[Filter("recipient", address)]),
                Query(limit=limit, filters=[Filter("message_id", address)]),
            ],
        )

    def _row(doc: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": doc["id"],
            "first_seen": doc.get("first_seen"),
            "sender": doc.get("sender"),
            "recipients": doc.get("recipients") or [],
            "size": doc.get("size"),
            "host": doc.get("host"),
            "status": doc.get("status"),
            "message_id": doc.get("message_id"),
            "client": doc.get("client"),
            "client_ip": doc.get("client_ip"),
            "queue_ids": [t.get("queue_id") for t in doc.get("transactions") or []],
        }

    @app.post("/search/ids")
    def search_ids() -> str:
        ctx = _ctx()
        text = _f("message_ids")
        ids = [m.strip("<>") for m in re.split(r"[\s,]+", text) if m.strip("<>")][:1000]
        rows: list[dict[str, Any]] = []
        missing: list[str] = []
        if ids:
            page = search_emails(ctx.db, Query(message_ids=ids, limit=1000), ctx.scope)
            rows = page.items
            found = {r["doc"].get("message_id") for r in rows}
            missing = [i for i in ids if i not in found]
        return render(
            "search.html",
            quick="",
            kind="ids",
            rows=[_row(r["doc"]) for r in rows],
            page=None,
            note=None,
            error=None,
            items=[],
            searched=True,
            sort="-time",
            filters=_filter_rows([]),
            since="",
            until="",
            ids_text=text,
            missing=missing,
        )

    def _export_rows(ctx: Ctx) -> Iterable[dict[str, Any]]:
        quick = _q("q").strip()
        kind = classify_quick(quick) if quick else None
        if kind and kind[0] == "address":
            yield from (r["doc"] for r in _address_search(ctx, kind[1], 1000)[0])
            return
        if kind and kind[0] == "domain":
            yield from (
                r["doc"]
                for r in _merge(
                    ctx,
                    [
                        Query(limit=1000, filters=[Filter("sender_domain", kind[1])]),
                        Query(limit=1000, filters=[Filter("recipient_domain", kind[1])]),
                    ],
                )[0]
            )
            return
        q = build_query(request.query, ctx.tz, EMAIL_FIELDS)
        if kind:
            q.filters.append(_quick_filter(kind))
        q.limit, q.count, q.after = 1000, False, None
        n = 0
        while True:
            page = search_emails(ctx.db, q, ctx.scope)
            for item in page.items:
                yield item["doc"]
                n += 1
            if not page.next_cursor or n >= EXPORT_MAX:
                return
            q.after = page.next_cursor

    @app.get("/search/export.csv")
    def export_csv() -> str:
        ctx = _ctx()
        tz = ctx.tz
        rows = []
        for doc in _export_rows(ctx):
            rcpts = doc.get("recipients") or [{}]
            for r in rcpts:
                rows.append(
                    (
                        fmt_time(doc.get("first_seen"), tz),
                        doc.get("id"),
                        doc.get("message_id"),
                        doc.get("host"),
                        " ".join(t.get("queue_id", "") for t in doc.get("transactions") or []),
                        doc.get("sender"),
                        r.get("address"),
                        r.get("status"),
                        r.get("dsn"),
                        r.get("relay"),
                        r.get("response"),
                        doc.get("size"),
                        doc.get("client"),
                        doc.get("client_ip"),
                    )
                )
        header = (
            "time",
            "id",
            "message_id",
            "host",
            "queue_ids",
            "sender",
            "recipient",
            "status",
            "dsn",
            "relay",
            "response",
            "size",
            "client",
            "client_ip",
        )
        return _csv(rows, header, "else-search.csv")

    @app.get("/search/export.json")
    def export_json() -> str:
        ctx = _ctx()
        emails = [summary(doc) for doc in _export_rows(ctx)]
        response.set_header("Content-Disposition", 'attachment; filename="else-search.json"')
        return _json({"emails": emails})

    # -- rejects -----------------------------------------------------------------------------

    @app.get("/rejects")
    def rejects_page() -> str:
        ctx = _ctx()
        error = None
        page = None
        try:
            q = build_query(request.query, ctx.tz, REJECT_FIELDS)
            q.sort = "-time"
            page = search_rejects(ctx.db, q, ctx.scope)
        except SearchError as exc:
            error = str(exc)
        return render(
            "rejects.html",
            page=page,
            error=error,
            items=_request_items(),
            filters=_filter_rows(_request_items()),
            since=_q("since"),
            until=_q("until"),
        )

    # -- my searches -------------------------------------------------------------------------

    @app.get("/searches")
    def searches_page() -> str:
        ctx = _ctx()
        assert ctx.user is not None
        recent = history.recent(ctx.db, ctx.user.id)
        saved = history.saved(ctx.db, ctx.user.id)
        for row in (*recent, *saved):
            pairs = _pairs(row["query"])
            row["qs"] = urllib.parse.urlencode(pairs)
            row["text"] = " ".join(f"{k}={v}" for k, v in pairs if k not in ("limit", "sort"))
        return render("searches.html", history=recent, saved=saved)

    @app.post("/searches/save")
    def save_search() -> Any:
        ctx = _ctx()
        assert ctx.user is not None
        name = _f("name").strip()[:100]
        if not name:
            raise accounts.AccountError("give the search a name")
        query = [
            [k, v]
            for k, v in urllib.parse.parse_qsl(_f("query"), keep_blank_values=False)
            if k not in ("cursor", "csrf")
        ][:100]
        history.save(ctx.db, ctx.user.id, name, query)
        ctx.flash(f"Search saved as {name!r}.")
        redirect("/searches", 303)

    @app.post("/searches/<sid:int>/delete")
    def delete_search(sid: int) -> Any:
        ctx = _ctx()
        assert ctx.user is not None
        history.delete(ctx.db, ctx.user.id, sid)
        ctx.flash("Saved search deleted.")
        redirect("/searches", 303)

    # -- the e-mail story ----------------------------------------------------------------------

    @app.get("/email/<eid>")
    def email_page(eid: str) -> str:
        ctx = _ctx()
        detail = email_detail(ctx.db, eid[:200], ctx.scope)
        if detail is None:
            raise HTTPError(404, "no such e-mail (or not yours to see)")
        story = build_story(detail)
        servers = {s.name for s in settings.config.servers}
        return render("email.html", d=detail, e=detail["email"], story=story, servers=servers)

    # -- live ----------------------------------------------------------------------------------

    @app.get("/live")
    def live_page() -> str:
        return render("live.html", data=_live(_ctx()))

    def _live(ctx: Ctx) -> dict[str, Any]:
        tz = ctx.tz
        emails = search_emails(ctx.db, Query(limit=20, count=False), ctx.scope).items
        rejects = search_rejects(ctx.db, Query(limit=20, count=False), ctx.scope).items
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

    @app.get("/api/v1/live")
    def api_live() -> str:
        response.set_header("Cache-Control", "no-store")
        return _json(_live(_ctx()))

    # -- reports -------------------------------------------------------------------------------

    def _period(ctx: Ctx) -> tuple[stats.Period, dict[str, Any]]:
        tz = ctx.tz
        now = datetime.now(tz)
        preset = _q("period", "7d")
        presets = {"1d": 1, "7d": 7, "30d": 30, "90d": 90}
        if _q("since"):
            since = _parse_when(_q("since"), tz)
            until = _parse_when(_q("until"), tz, end=True) if _q("until") else now
            preset = "custom"
        else:
            since = now - timedelta(days=presets.get(preset, 7))
            until = now + timedelta(minutes=1)
        if until <= since:
            raise SearchError("the end of the period must be after its start")
        # A group's scope lies inside the scope of each of its members (their scope is
        # the union of their groups), so it replaces the user's scope, never widens it.
        scopes: list[Scope | None] = [ctx.scope]
        group_name = _q("group")
        groups = accounts.list_groups(
            ctx.db, None if ctx.user and ctx.user.is_admin else ctx.user.id if ctx.user else None
        )
        if group_name:
            match = [g for g in groups if g.name == group_name]
            if not match:
                raise SearchError("unknown group")
            scopes = [accounts.group_scope(match[0])]
        server = _q("server") or None
        p = stats.Period(since, until, tz.key, server, scopes)
        meta = {
            "period": preset,
            "since": since,
            "until": until,
            "server": server or "",
            "group": group_name,
            "groups": [g.name for g in groups],
            "servers": servers_mod.known_names(ctx.db, settings.config),
            "order": "size" if _q("order") == "size" else "count",
        }
        return p, meta

    @app.get("/reports")
    def reports_page() -> str:
        ctx = _ctx()
        p, meta = _period(ctx)
        tables = {name: r.run(ctx.db, p, meta["order"]) for name, r in stats.REPORTS.items()}
        return render(
            "reports.html",
            reports=stats.REPORTS,
            tables=tables,
            totals=stats.report_totals(ctx.db, p),
            meta=meta,
            params=_query_string(_request_items()),
            items=_request_items(),
        )

    @app.get("/reports/chart/<name>.svg")
    def report_chart(name: str) -> bytes:
        ctx = _ctx()
        report = stats.REPORTS.get(name)
        if report is None:
            raise HTTPError(404, "no such report")
        p, meta = _period(ctx)
        rows = report.run(ctx.db, p, meta["order"])
        response.content_type = "image/svg+xml"
        response.set_header("Cache-Control", "private, max-age=60")
        buckets = stats.bucket_labels(p) if name == "volume" else []
        return charts.report_chart(name, report.title, rows, meta["order"], buckets)

    @app.get("/reports/<name>.csv")
    def report_csv(name: str) -> str:
        ctx = _ctx()
        report = stats.REPORTS.get(name)
        if report is None:
            raise HTTPError(404, "no such report")
        p, meta = _period(ctx)
        rows = report.run(ctx.db, p, meta["order"])
        return _csv(rows, report.columns, f"else-{name}.csv")

    # -- JSON API ------------------------------------------------------------------------------

    @app.get("/api/v1/search")
    def api_search() -> str:
        ctx = _ctx()
        check_api_params(request.query, EMAIL_FIELDS)
        q = build_query(request.query, None, EMAIL_FIELDS)
        page = search_emails(ctx.db, q, ctx.scope)
        return _json(
            {
                "emails": [summary(r["doc"]) for r in page.items],
                "next": page.next_cursor,
                "total": page.total,
                "total_exact": page.total_exact,
            }
        )

    @app.get("/api/v1/emails/<eid>")
    def api_email(eid: str) -> str:
        ctx = _ctx()
        detail = email_detail(ctx.db, eid[:200], ctx.scope)
        if detail is None:
            return _json({"error": "no such e-mail"}, 404)
        return _json(detail)

    @app.get("/api/v1/rejects")
    def api_rejects() -> str:
        ctx = _ctx()
        check_api_params(request.query, REJECT_FIELDS)
        q = build_query(request.query, None, REJECT_FIELDS)
        q.sort = "-time"
        page = search_rejects(ctx.db, q, ctx.scope)
        return _json(
            {
                "rejects": page.items,
                "next": page.next_cursor,
                "total": page.total,
                "total_exact": page.total_exact,
            }
        )

    @app.get("/api/v1/stats")
    def api_stats() -> str:
        """``elsectl stats``'s JSON (else_core.stats) plus the Reports page's extra tables."""
        ctx = _ctx()
        p, meta = _period(ctx)
        sq = stats.StatsQuery(
            since=p.since,
            until=p.until,
            hosts=(p.server,) if p.server else (),
            scope=p.scopes[-1],
        )
        out = stats.compute(ctx.db, sq)
        out["period"]["group"] = meta["group"] or None
        for name in ("direction", "deferrals", "bounces"):
            report = stats.REPORTS[name]
            keys = [h.replace("-", "_") for h in report.columns]
            out[name] = [
                dict(zip(keys, row, strict=True)) for row in report.run(ctx.db, p, meta["order"])
            ]
        return _json(out)

    @app.get("/api/v1/openapi.json", auth="none")
    def api_openapi() -> Any:
        return static_file("openapi.json", root=str(HERE / "static"), mimetype="application/json")

    # -- admin, servers ----------------------------------------------------------------------------
    from webui import admin  # noqa: PLC0415 - routes that need the helpers defined above

    admin.install(app, render=render, settings=settings, ctx=_ctx, form=_f, query=_q, csv=_csv)
    return app


# -- the e-mail story ------------------------------------------------------------------------------


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
