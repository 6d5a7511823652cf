"""What every page shares: settings, the per-request context, rendering and responses.

A route handler gets its :class:`Ctx` with :func:`ctx` (the request plugin in
:mod:`webui.session` made it), reads parameters with :func:`q` / :func:`f`, and answers
with :func:`render` (HTML), :func:`json_response` or :func:`csv_response`. Nothing here
queries the database itself: ``Ctx.db`` is the connection handed to ``else_core``.
"""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bottle import Bottle, request, response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from else_core import accounts
from else_core import config as config_mod
from else_core.alerts import store as alerts_store
from else_core.db import Connection
from else_core.db.routing import READ_YOUR_WRITES_SECONDS, Routes, wal_position
from else_core.model import EMAIL_STATUSES
from else_core.scope import Scope
from else_core.search import EMAIL_FIELDS, REJECT_FIELDS
from webui import explain
from webui.queries import OPERATOR_LABELS

HERE = Path(__file__).resolve().parent
PAGE_SIZES = (25, 50, 100, 200)
TIMEZONES = sorted(available_timezones())
TIMEZONES_SET = frozenset(TIMEZONES)
ENV_KEY = "else.jinja"


@dataclass(slots=True)
class Settings:
    dsn: str
    secret: bytes
    secure_cookies: bool
    config: config_mod.Config
    default_tz: str = config_mod.WEB_DEFAULTS.timezone
    session_max_age: int = config_mod.WEB_DEFAULTS.session_max_age
    read_dsn: str = ""  # a hot standby for reads ("": the primary, ``dsn``)
    routes: Routes = field(init=False)

    def __post_init__(self) -> None:
        self.routes = Routes(self.dsn, self.read_dsn)


@dataclass(slots=True)
class Ctx:
    """Per-request state: connection, session, user and scope."""

    settings: Settings
    session: dict[str, Any]
    conn: Connection | None = None
    wconn: Connection | None = None
    user: accounts.User | None = None
    via_token: bool = False
    dirty: bool = False
    _scope: Scope | None = field(default=None)
    _scope_loaded: bool = False

    @property
    def db(self) -> Connection:
        """The connection queries read through: the standby when there is one (the primary
        while the standby has not yet replayed this session's last write)."""
        if self.conn is None:
            self.conn = self.settings.routes.read(self._wrote_up_to())
        return self.conn

    def _wrote_up_to(self) -> str | None:
        w = self.session.get("w")
        if not (self.settings.routes.split and isinstance(w, list) and len(w) == 2):
            return None
        lsn, at = w
        if not isinstance(lsn, str) or not isinstance(at, int):
            return None
        return lsn if time.time() - at < READ_YOUR_WRITES_SECONDS else None

    def remember_writes(self) -> None:
        """Note in the session how far this request wrote on the primary, so the next pages
        read what it wrote (see ``else_core.db.routing``). Token requests keep no session."""
        if self.wconn is None or self.via_token or self.wconn.closed:
            return
        lsn = wal_position(self.wconn)
        if lsn is not None:
            self.session["w"] = [lsn, int(time.time())]
            self.dirty = True

    @property
    def primary(self) -> Connection:
        """The connection writes go through (the primary), or ``ReadOnly`` when it is down."""
        if not self.settings.routes.split:
            return self.db
        if self.wconn is None:
            self.wconn = self.settings.routes.write()
        return self.wconn

    @property
    def read_only(self) -> bool:
        """Whether writes are refused now (the split layout's backend is unreachable)."""
        return self.settings.routes.split and not self.settings.routes.primary_up()

    def close(self) -> None:
        for conn in (self.conn, self.wconn):
            if conn is not None:
                conn.close()
        self.conn = self.wconn = None

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


def settings_of(app: Bottle) -> Settings:
    """The application's settings (create_app stores them in the app's config)."""
    settings: Settings = app.config["else.settings"]
    return settings


def ctx() -> Ctx:
    """This request's context."""
    c: Ctx = request.environ["else.ctx"]
    return c


def q(name: str, default: str = "") -> str:
    """A query-string parameter as text (the last one of that name)."""
    value = request.query.getunicode(name)
    return default if value is None else str(value)


def f(name: str, default: str = "") -> str:
    """A form field as text (the last one of that name)."""
    value = request.forms.getunicode(name)
    return default if value is None else str(value)


def request_items() -> list[tuple[str, str]]:
    """Every query-string parameter in order, decoded as UTF-8 (bad bytes replaced)."""
    return [(k, v.encode("latin1").decode("utf-8", "replace")) for k, v in request.query.allitems()]


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


def query_string(params: dict[str, Any] | Iterable[tuple[str, Any]], **changes: Any) -> str:
    """``params`` as a query string with ``changes`` applied (empty values dropped)."""
    items = list(params.items() if isinstance(params, dict) else params)
    keys = set(changes)
    out = [(k, v) for k, v in items if k not in keys and v not in (None, "")]
    out += [(k, v) for k, v in changes.items() if v not in (None, "")]
    return urllib.parse.urlencode(out)


# -- rendering and responses ------------------------------------------------------------------


def make_env() -> Environment:
    """The templates' environment: autoescaping everywhere (log data is hostile)."""
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        STATUSES=EMAIL_STATUSES,
        OPERATOR_LABELS=OPERATOR_LABELS,
        EMAIL_FIELDS=EMAIL_FIELDS,
        REJECT_FIELDS=REJECT_FIELDS,
        explain=explain,
        qs=query_string,
        PAGE_SIZES=PAGE_SIZES,
    )
    env.filters.update(size=fmt_size, delay=fmt_delay)
    return env


def env_of(app: Bottle) -> Environment:
    env: Environment = app.config[ENV_KEY]
    return env


def _alert_banner(c: Ctx | None) -> tuple[int, int] | None:
    """(open, acknowledged) alerts for the banner of an administrator's page; None: none open.
    Alerts name servers and other tenants' domains: scoped users see neither."""
    if c is None or c.user is None or not c.user.is_admin:
        return None
    counts = alerts_store.unresolved_count(c.db)
    return counts if counts and counts[0] else None


def render(template: str, **kw: Any) -> str:
    """An HTML page for this request's user, in their time zone, with the pending flash."""
    c: Ctx | None = request.environ.get("else.ctx")
    tz = c.tz if c else ZoneInfo("UTC")
    flash = None
    if c and c.session.get("f"):
        flash = c.session.pop("f")
        c.dirty = True
    response.content_type = "text/html; charset=utf-8"
    response.set_header("Cache-Control", "no-store")
    return (
        env_of(request.app)
        .get_template(template)
        .render(
            user=c.user if c else None,
            csrf=c.session.get("c", "") if c else "",
            tzname=tz.key,
            when=lambda v, seconds=True: fmt_time(v, tz, seconds),
            flash=flash,
            read_only=c.read_only if c and c.user else False,
            alert_banner=_alert_banner(c),
            path=request.path,
            **kw,
        )
    )


def csv_cell(value: Any) -> str:
    """Log data opened in a spreadsheet must not become a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(rows: Iterable[Iterable[Any]], header: Iterable[str], filename: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(list(header))
    for row in rows:
        w.writerow([csv_cell(v) for v in row])
    response.content_type = "text/csv; charset=utf-8"
    response.set_header("Content-Disposition", f'attachment; filename="{filename}"')
    return buf.getvalue()


def json_response(obj: Any, status: int = 200) -> str:
    response.status = status
    response.content_type = "application/json"
    response.set_header("Cache-Control", "no-store")  # per-user answers
    return json.dumps(obj, default=str)
