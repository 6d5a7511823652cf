"""Every route and parameter against hostile values (issue 16, part 5): a NUL byte,
invalid UTF-8, control characters, huge values, wrong types, far dates. The answer is
a 4xx with a message, never a 500 (and never a traceback in the page).

Values that cannot be meaningful anywhere (NUL, invalid UTF-8, control characters, a
huge value) must be refused with 400 by every route; values of the wrong type or far
dates may also be ignored by a route that does not read them (200), but never crash it.
"""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest
from conftest import email_id
from webclient import Client, Response

pytestmark = pytest.mark.postgres


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


#: Refused everywhere with a 400: (label, value as sent; bytes are sent as they are)
REFUSED: list[tuple[str, str | bytes]] = [
    ("nul", "alpha\x00.example"),
    ("invalid-utf8", b"\xff\xfe\xc3("),
    ("control", "beta\x1b[31m"),
    ("huge", "x" * 150_000),
]
#: Maybe ignored, never a 5xx.
ODD: list[tuple[str, str]] = [
    ("far-future", "9999-12-31"),
    ("far-future-time", "9999-12-31T23:59:59"),
    ("year-zero", "0000-01-01"),
    ("ancient", "0001-01-01"),
    ("five-digit-year", "99999-01-01"),
    ("no-such-day", "2026-02-30"),
    ("word", "bogus"),
    ("negative", "-5"),
    ("huge-number", "9" * 40),
    ("float", "1e999"),
    ("json", '{"a": [1, 2]}'),
    ("newline", "a\nb"),
    ("tab-path", "/\t/evil.example"),
    ("cursor-wrong-types", _cursor([{"a": 1}, [2]])),
    ("cursor-number-id", _cursor(["2026-03-14T10:00:00+00:00", 5])),
    ("cursor-far-date", _cursor(["9999-12-31T23:59:59+00:00", "x"])),
    ("cursor-not-json", base64.urlsafe_b64encode(b"\xff\x00[").decode()),
    ("quote", "' OR 1=1 --"),
]

SEARCH = ["q", "since", "until", "limit", "cursor", "sort", "sender", "recipient", "status",
          "sender_op", "f", "o", "v", "tz", "client", "size", "message_id"]  # fmt: skip
REJECTS = ["since", "until", "limit", "cursor", "sort", "client", "reason", "recipient"]
PERIOD = ["period", "since", "until", "group", "server", "order", "tz"]
API_SEARCH = ["since", "until", "limit", "cursor", "sort", "status", "sender", "sender_op",
              "message_ids", "size"]  # fmt: skip

#: (path, parameters it reads); {eid} is a real e-mail, {name} a real server or report.
GETS: list[tuple[str, list[str]]] = [
    ("/search", SEARCH),
    ("/search/export.csv", SEARCH),
    ("/search/export.json", SEARCH),
    ("/rejects", REJECTS),
    ("/searches", []),
    ("/email/{eid}", ["tz"]),
    ("/live", ["tz"]),
    ("/api/v1/live", []),
    ("/reports", PERIOD),
    ("/reports/chart/senders.svg", PERIOD),
    ("/reports/senders.csv", PERIOD),
    ("/api/v1/search", API_SEARCH),
    ("/api/v1/emails/{eid}", []),
    ("/api/v1/rejects", REJECTS),
    ("/api/v1/stats", PERIOD),
    ("/admin/users", []),
    ("/admin/groups", []),
    ("/admin/audit", ["actor", "action"]),
    ("/admin/audit.csv", ["actor", "action"]),
    ("/servers", []),
    ("/servers/pfx", ["hours", "queue"]),
    ("/servers/pfx/queues.svg", ["hours"]),
    ("/servers/pfx/spark.svg", ["hours"]),
    ("/account", ["tz"]),
    ("/login", ["next"]),
]
#: (path, form fields); posted by the admin with a valid CSRF token.
POSTS: list[tuple[str, list[str]]] = [
    ("/login", ["username", "password", "next", "tz"]),
    ("/account/tz", ["tz"]),
    ("/account/password", ["old", "new", "again"]),
    ("/search/ids", ["message_ids"]),
    ("/searches/save", ["name", "query"]),
    ("/admin/users", ["username", "password", "email"]),
    ("/admin/users/hostile-target/password", ["password"]),
    ("/admin/users/hostile-target/token", ["name"]),
    ("/admin/users/hostile-target/revoke", ["prefix"]),
    ("/admin/groups", ["name", "description"]),
    ("/admin/groups/alpha/add", ["kind", "value"]),
    ("/admin/groups/alpha/remove", ["kind", "value"]),
]
#: Path segments fed the hostile values (percent-encoded as a client would send them).
PATHS = ["/email/{}", "/api/v1/emails/{}", "/servers/{}", "/reports/{}.csv",
         "/reports/chart/{}.svg", "/admin/users/{}/unlock"]  # fmt: skip


def _has_message(res: Response) -> bool:
    if "json" in (res.header("Content-Type") or ""):
        body = res.json()
        return bool(body.get("error"))
    return len(res.text.strip()) > 0 and "Traceback" not in res.text


def _check(res: Response, refused: bool) -> None:
    assert res.status < 500, res.text[:300]
    assert "Traceback" not in res.text
    if refused:
        assert res.status in (400, 413, 414), (res.status, res.text[:300])
    if res.status >= 400:
        assert _has_message(res), res.text[:300]


@pytest.fixture(scope="module")
def admin(base_url, web_db, clients) -> Client:
    from else_core import accounts

    with web_db.connect("else_web") as conn:
        if accounts.get_user(conn, "hostile-target") is None:
            accounts.add_user(conn, "hostile-target", "correct horse battery")
    return clients["admin"]


@pytest.fixture(scope="module")
def eid(web_db) -> str:
    return email_id(web_db, "beta-1@beta.example")


def _enc(value: str | bytes) -> str:
    return urllib.parse.quote(value, safe="")


@pytest.mark.parametrize(("label", "value"), REFUSED + ODD, ids=[v[0] for v in REFUSED + ODD])
@pytest.mark.parametrize(("path", "params"), GETS, ids=[g[0] for g in GETS])
def test_get_parameters_never_crash(admin, eid, path, params, label, value):
    refused = (label, value) in REFUSED
    url = path.format(eid=eid)
    for name in params or ["x"]:
        res = admin.request("GET", f"{url}?{name}={_enc(value)}")
        _check(res, refused)


@pytest.mark.parametrize(("label", "value"), REFUSED + ODD, ids=[v[0] for v in REFUSED + ODD])
@pytest.mark.parametrize(("path", "fields"), POSTS, ids=[p[0] for p in POSTS])
def test_form_fields_never_crash(admin, path, fields, label, value):
    refused = (label, value) in REFUSED
    for name in fields:
        admin.get("/account")  # a fresh CSRF token for the form
        body = f"csrf={_enc(admin.csrf or '')}&{name}={_enc(value)}".encode()
        res = admin.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        _check(res, refused)


@pytest.mark.parametrize(("label", "value"), REFUSED + ODD, ids=[v[0] for v in REFUSED + ODD])
@pytest.mark.parametrize("path", PATHS)
def test_path_segments_never_crash(admin, path, label, value):
    if label == "huge":
        value = "x" * 5000
    method = "POST" if path.endswith("/unlock") else "GET"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    body = f"csrf={_enc(admin.csrf or '')}".encode() if method == "POST" else None
    res = admin.request(method, path.format(_enc(value)), body, headers)
    assert res.status < 500, res.text[:300]
    assert "Traceback" not in res.text
    if res.status >= 400:
        assert _has_message(res)


@pytest.mark.parametrize(("label", "value"), REFUSED, ids=[v[0] for v in REFUSED])
def test_login_name_is_checked_before_anything_else(base_url, label, value):
    c = Client(base_url, source="127.0.0.40")
    c.get("/login")
    body = f"csrf={_enc(c.csrf or '')}&username={_enc(value)}&password=x".encode()
    res = c.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status in (400, 413)  # 413: bottle refuses a form body over 100 kB itself
    assert _has_message(res)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"sort": "bogus"}, "unknown sort"),
        ({"status": "bogus"}, "unknown status"),
        ({"until": "9999-12-31"}, "out of range"),
        ({"since": "2026-02-30"}, "invalid"),
        ({"limit": "many"}, "limit"),
        ({"cursor": _cursor([{"a": 1}, [2]])}, "invalid page cursor"),
        ({"sender": "a\x00b"}, "NUL"),
    ],
)
def test_api_answers_bad_parameters_with_400_naming_them(admin, query, message):
    res = admin.api("/api/v1/search", **query)
    assert res.status == 400
    assert message in res.json()["error"]


@pytest.mark.parametrize(
    "next_url", ["/\t/evil.example", "/\n/evil.example", "/search\r\nSet-Cookie: x=1", "/\\evil"]
)
def test_login_next_with_whitespace_or_backslash_goes_home(base_url, next_url):
    c = Client(base_url, source="127.0.0.41")
    c.get("/login")
    res = c.post(
        "/login", {"username": "admin", "password": "correct horse battery", "next": next_url}
    )
    assert res.status == 303
    assert res.header("Location") == "/search"
