"""Log-in, lock-out, log-out, password change, sessions and cookies over real HTTP."""

from __future__ import annotations

import pytest
from conftest import PASSWORD, login
from webclient import Client

from else_core import accounts

pytestmark = pytest.mark.postgres


def _new_user(web_db, name: str, admin: bool = False) -> None:
    with web_db.connect("else_web") as conn:
        if accounts.get_user(conn, name) is None:
            accounts.add_user(conn, name, PASSWORD, is_admin=admin)


@pytest.mark.parametrize(
    ("username", "password", "status"),
    [
        ("admin", PASSWORD, 303),
        ("admin", "wrong password!", 401),
        ("no-such-user", PASSWORD, 401),
        ("", "", 401),
        ("<script>alert(1)</script>", "x", 401),
    ],
)
def test_login_answers(base_url, username, password, status):
    c = Client(base_url)
    c.get("/login")
    res = c.post("/login", {"username": username, "password": password})
    assert res.status == status
    if status == 401:
        # One message for a wrong name and a wrong password: no user enumeration.
        assert "Wrong user name or password." in res.text
        assert "<script>alert(1)</script>" not in res.text


@pytest.mark.parametrize(
    "path", ["/search", "/email/x", "/reports", "/live", "/admin/users", "/servers", "/account"]
)
def test_pages_need_a_login(anon, path):
    res = anon.get(path)
    assert res.status == 303
    assert res.header("Location").startswith("/login?next=")


@pytest.mark.parametrize(
    "path", ["/api/v1/search", "/api/v1/emails/x", "/api/v1/stats", "/api/v1/rejects"]
)
def test_api_needs_a_session_or_token(anon, path):
    res = anon.get(path)
    assert res.status == 401
    assert res.json() == {"error": "authentication required"}
    assert res.header("WWW-Authenticate").startswith("Bearer")


def test_repeated_failures_lock_the_account_until_an_admin_unlocks_it(base_url, web_db, clients):
    _new_user(web_db, "locky")
    c = Client(base_url)
    c.get("/login")
    for _ in range(accounts.LOCK_AFTER):
        assert c.post("/login", {"username": "locky", "password": "nope"}).status == 401
    locked = c.post("/login", {"username": "locky", "password": PASSWORD})
    assert locked.status == 429
    assert "Too many log-in attempts" in locked.text
    admin = clients["admin"]
    assert admin.post("/admin/users/locky/unlock").status == 303
    assert c.post("/login", {"username": "locky", "password": PASSWORD}).status == 303
    with web_db.connect() as conn:
        actions = [
            r[0]
            for r in conn.execute(
                "SELECT action FROM audit_log WHERE target = 'locky' ORDER BY id"
            ).fetchall()
        ]
    assert actions.count("login.failed") == accounts.LOCK_AFTER
    assert "login.refused" in actions and actions[-1] == "login"


def test_logout_makes_a_copied_cookie_useless(base_url, web_db):
    _new_user(web_db, "leaver")
    c = login(base_url, "leaver")
    stolen = dict(c.cookies)
    assert c.get("/search").status == 200
    assert c.post("/logout").status == 303
    thief = Client(base_url, cookies=stolen)
    assert thief.get("/search").status == 303


def test_password_change_needs_the_old_one_and_ends_other_sessions(base_url, web_db):
    _new_user(web_db, "changer")
    first, second = login(base_url, "changer"), login(base_url, "changer")
    new = "a much better passphrase"
    bad = first.post("/account/password", {"old": "wrong", "new": new, "again": new})
    assert bad.status == 400
    ok = first.post("/account/password", {"old": PASSWORD, "new": new, "again": new})
    assert ok.status == 303
    assert first.get("/account").status == 200  # the session that changed it goes on
    assert second.get("/account").status == 303  # every other one has ended
    assert login(base_url, "changer", new).get("/search").status == 200


@pytest.mark.parametrize(
    ("new", "again"),
    [("short", "short"), ("long enough one", "but different")],
)
def test_weak_or_mistyped_new_passwords_are_refused(base_url, web_db, new, again):
    _new_user(web_db, "picky")
    c = login(base_url, "picky")
    res = c.post("/account/password", {"old": PASSWORD, "new": new, "again": again})
    assert res.status == 400


def test_a_tampered_cookie_is_an_anonymous_visitor(base_url, clients):
    value = clients["alice"].cookies["else_session"]
    payload, sig = value.split(".")
    forged = Client(base_url, cookies={"else_session": payload + "x." + sig})
    assert forged.get("/search").status == 303


def test_session_cookie_is_httponly_and_samesite(base_url):
    c = Client(base_url)
    res = c.get("/login")
    cookie = res.header("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


@pytest.mark.parametrize(
    ("next_url", "location"),
    [("/reports", "/reports"), ("https://evil.example/", "/search"), ("//evil.example", "/search")],
)
def test_login_returns_only_to_local_pages(base_url, next_url, location):
    c = Client(base_url)
    c.get("/login")
    res = c.post("/login", {"username": "admin", "password": PASSWORD, "next": next_url})
    assert res.header("Location") == location


def test_login_sets_the_time_zone_the_browser_sent(base_url):
    c = Client(base_url)
    c.get("/login")
    c.post("/login", {"username": "admin", "password": PASSWORD, "tz": "Europe/Berlin"})
    page = c.get("/search", q="beta-1@beta.example")
    assert "2026-03-14 11:10:00 CET" in page.text  # 10:10 UTC
