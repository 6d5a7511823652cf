"""A small HTTP client for the web UI tests: real requests over loopback, a cookie jar,
no redirect following (the tests look at each 303), the CSRF token kept from pages; and
:func:`serving`, the production server on a loopback port for it to talk to."""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bottle import Bottle

from else_core import accounts
from else_core.commands.serve import make
from webui.views.auth import LIMITS_KEY


@contextmanager
def serving(app: Bottle) -> Iterator[str]:
    """Serve a WSGI app on a free loopback port (the production server); yield its base URL.

    Every test logs in from 127.0.0.1 and several apps share one database, where the
    per-address failure count lives: an app without limits of its own gets a per-address
    limit no test run reaches (test_login_throttle.py sets and tests the real ones)."""
    if LIMITS_KEY not in app.config:
        app.config[LIMITS_KEY] = accounts.LoginLimits(address_failures=100_000)
    server = make("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass
class Client:
    base: str
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str | None = None
    source: str | None = None  # the client's own loopback address (127.x.y.z), if not the default

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        cookies: bool = True,
    ) -> Response:
        url = urllib.parse.urlsplit(self.base)
        conn = http.client.HTTPConnection(
            url.hostname,
            url.port,
            timeout=60,
            source_address=(self.source, 0) if self.source else None,
        )
        hdrs = dict(headers or {})
        if cookies and self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=hdrs)
        raw = conn.getresponse()
        res = Response(raw.status, raw.headers, raw.read())
        conn.close()
        for value in raw.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0].strip('"')
            self.csrf = None  # a new session has a new token
        m = re.search(rb'name="csrf" value="([^"]+)"', res.body)
        if m:
            self.csrf = m.group(1).decode()
        return res

    def get(self, path: str, **params: Any) -> Response:
        if params:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params, doseq=True)
        return self.request("GET", path)

    def post(
        self, path: str, data: dict[str, Any] | None = None, csrf: bool | str = True
    ) -> Response:
        form = dict(data or {})
        if csrf is True:
            if self.csrf is None:
                self.get("/login")  # every page with a form carries the session's token
            form["csrf"] = self.csrf
        elif isinstance(csrf, str):
            form["csrf"] = csrf
        body = urllib.parse.urlencode(form, doseq=True).encode()
        return self.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )

    def api(self, path: str, token: str | None = None, **params: Any) -> Response:
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.request("GET", path, headers=headers, cookies=token is None)
