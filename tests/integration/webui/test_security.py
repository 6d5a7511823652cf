"""CSRF on every state change, hostile log data rendered inert, security headers everywhere."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from conftest import SINCE, UNTIL, email_id

from else_core import accounts

pytestmark = pytest.mark.postgres

#: Every state-changing endpoint with a form that would work with the right token.
POSTS = [
    ("/logout", {}),
    ("/account/password", {"old": "x", "new": "yyyyyyyyyyyy", "again": "yyyyyyyyyyyy"}),
    ("/account/tz", {"tz": "Europe/Paris"}),
    ("/search/ids", {"message_ids": "beta-1@beta.example"}),
    ("/searches/save", {"name": "csrf-test", "query": "q=x"}),
    ("/searches/1/delete", {}),
    ("/admin/users", {"username": "csrf-victim", "password": "0123456789ab"}),
    ("/admin/users/alice/update", {"admin": "on", "active": "on"}),
    ("/admin/users/alice/password", {"password": "0123456789ab"}),
    ("/admin/users/alice/unlock", {}),
    ("/admin/users/alice/token", {"name": "x"}),
    ("/admin/users/alice/revoke", {"prefix": "x"}),
    ("/admin/users/alice/delete", {}),
    ("/admin/groups", {"name": "csrf-group"}),
    ("/admin/groups/alpha/bind", {"kind": "domain", "value": "evil.example"}),
    ("/admin/groups/alpha/unbind", {"kind": "domain", "value": "alpha.example"}),
    ("/admin/groups/alpha/delete", {}),
    ("/servers/pfx/control", {"action": "flush", "confirm": "yes"}),
]


@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing", "wrong"])
@pytest.mark.parametrize(("path", "data"), POSTS, ids=[p for p, _ in POSTS])
def test_state_changes_without_the_csrf_token_are_refused(clients, web_db, path, data, token):
    c = clients["admin"]
    res = c.post(path, data, csrf=token if token else False)
    assert res.status == 403
    assert "CSRF" in res.text
    with web_db.connect() as conn:
        assert accounts.get_user(conn, "csrf-victim") is None
        assert accounts.get_user(conn, "alice") is not None
        assert not accounts.get_user(conn, "alice").is_admin
        groups = {g.name: g for g in accounts.list_groups(conn)}
        assert "csrf-group" not in groups and groups["alpha"].domains == ("alpha.example",)
        assert (
            conn.execute(
                "SELECT count(*) FROM audit_log WHERE action LIKE 'snmp.%'"
                " AND actor = 'admin' AND target = 'pfx:*'"
            ).fetchone()[0]
            == 0
        )


PAYLOADS = ("<script>alert(", "<img src=x onerror", "<b>bold</b>", "<svg onload")


def _pages(web_db) -> list[str]:
    mid = "\"><script>alert('mid')</script>@alpha.example"
    return [
        "/search?q=a1%40alpha.example",
        f"/search?since={SINCE}&until={UNTIL}&limit=200",
        "/search?q=beta-1%40beta.example",
        f"/email/{email_id(web_db, mid)}",
        f"/email/{email_id(web_db, 'beta-1@beta.example')}",
        f"/rejects?since={SINCE}&until={UNTIL}",
        "/live",
        f"/reports?since={SINCE}&until={UNTIL}",
        "/admin/audit",
        "/admin/users",
        "/searches",
    ]


def test_hostile_log_data_is_escaped_on_every_page(clients, web_db, anon):
    # A hostile user name lands in the audit log through a failed log-in.
    anon.get("/login")
    anon.post("/login", {"username": "<script>alert('user')</script>", "password": "x"})
    admin = clients["admin"]
    for path in _pages(web_db):
        res = admin.get(path)
        assert res.status == 200, path
        for payload in PAYLOADS:
            assert payload not in res.text, f"{payload!r} unescaped on {path}"
    story = admin.get(_pages(web_db)[4]).text
    assert "&lt;script&gt;alert(&#39;bounce&#39;)&lt;/script&gt;" in story
    rejects = admin.get(_pages(web_db)[5]).text
    assert "&lt;script&gt;alert(&#39;helo&#39;)&lt;/script&gt;" in rejects


@pytest.mark.parametrize(
    "path",
    [
        f"/reports/chart/rejects.svg?since={SINCE}&until={UNTIL}",
        f"/reports/chart/bounces.svg?since={SINCE}&until={UNTIL}",
        f"/reports/chart/senders.svg?since={SINCE}&until={UNTIL}",
    ],
)
def test_chart_labels_from_logs_are_escaped_in_the_svg(clients, path):
    res = clients["admin"].get(path)
    assert res.status == 200
    assert res.header("Content-Type").startswith("image/svg+xml")
    for payload in PAYLOADS:
        assert payload not in res.text
    assert "script-src" not in res.header("Content-Security-Policy")  # default-src 'none'


def test_json_answers_are_json_not_html(clients):
    res = clients["admin"].get("/api/v1/live")
    assert res.header("Content-Type") == "application/json"
    assert any(
        "<script>" in (j["reason"] or "") or "<b>" in (j["reason"] or "")
        for j in res.json()["rejects"]
    )  # data intact; the page's JS uses textContent


@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/search",
        "/static/else.css",
        "/static/else.js",
        "/no-such-page",
        "/api/v1/search",
        "/healthz",
    ],
)
def test_every_response_carries_the_security_headers(clients, path):
    res = clients["alice"].get(path)
    csp = res.header("Content-Security-Policy")
    assert csp is not None and "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert res.header("X-Content-Type-Options") == "nosniff"
    assert res.header("X-Frame-Options") == "DENY"
    assert res.header("Referrer-Policy") == "same-origin"


class _Tags(HTMLParser):
    """Every real tag and attribute of a page (text that merely looks like one is not)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        if tag == "style" or (tag == "script" and "src" not in names):
            self.problems.append(f"inline <{tag}>")
        self.problems += [f"{tag} {k}=" for k in names if k == "style" or k.startswith("on")]
        self.problems += [
            f"{tag} {k}=javascript:"
            for k, v in attrs
            if (v or "").strip().lower().startswith("javascript:")
        ]


def test_pages_have_no_inline_script_or_style(clients, web_db):
    for path in _pages(web_db):
        parser = _Tags()
        parser.feed(clients["admin"].get(path).text)
        assert parser.problems == [], path
