"""The Bottle application: :func:`create_app` assembles the parts.

Layout of a request: :class:`ElseApp` adds the security headers to every response
(pages, API, static files, error pages alike); the request plugin
(:mod:`webui.session`) opens one database connection per request (as the ``else_web``
role), loads the session or the bearer token, enforces login/admin/CSRF as the route
declares, and closes the connection. The pages and the API are in :mod:`webui.views`,
one module per area. Everything a user may see goes through ``else_core`` (search,
stats, accounts, history, servers) with the user's :class:`~else_core.scope.Scope`,
which the SQL enforces.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from bottle import Bottle

from else_core import config as config_mod
from webui import session, views
from webui.context import ENV_KEY, Settings, make_env
from webui.security import load_secret, security_headers


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


def create_app(
    config: config_mod.Config | None = None,
    *,
    dsn: str | None = None,
    read_dsn: str | None = None,
    secret: bytes | None = None,
    secure_cookies: bool | None = None,
) -> ElseApp:
    """The WUI. With no arguments (mod_wsgi) everything comes from /etc/else/else.toml.

    ``secure_cookies=False`` allows plain HTTP (``elsectl serve`` on loopback, tests);
    otherwise ``[web] insecure_http = true`` must say so in the file.
    """
    cfg = config if config is not None else config_mod.load()
    web = cfg.web
    if secret is None:
        secret = load_secret(web.secret_file)
    if secure_cookies is None:
        secure_cookies = not web.insecure_http
    settings = Settings(
        dsn=cfg.dsn(dsn, role="web"),
        secret=secret,
        secure_cookies=secure_cookies,
        config=cfg,
        default_tz=web.timezone,
        session_max_age=web.session_max_age,
        read_dsn=cfg.read_dsn(read_dsn),
    )
    app = ElseApp()
    app.secure_cookies = secure_cookies
    app.config["else.settings"] = settings
    app.config[ENV_KEY] = make_env()
    session.install(app, settings)
    views.install(app)
    return app
