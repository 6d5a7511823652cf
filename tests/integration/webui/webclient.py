"""A small HTTP client for the web UI tests: real requests over loopback, a cookie jar,
no redirect following (the tests look at each 303), the CSRF token kept from pages."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any


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
