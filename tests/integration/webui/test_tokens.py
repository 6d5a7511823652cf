"""API tokens expire, die with a password reset or a deactivation, and show their last
use (issue 16, part 6)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import PASSWORD
from webclient import Client

from else_core import accounts

pytestmark = pytest.mark.postgres


def _user_with_token(web_db, name: str, **kw) -> str:
    with web_db.connect("else_web") as conn:
        if accounts.get_user(conn, name) is None:
            accounts.add_user(conn, name, PASSWORD)
        return accounts.create_token(conn, name, "test", **kw)


def _expiry(web_db, token: str):
    prefix = token.split("_")[1]
    with web_db.connect() as conn:
        row = conn.execute(
            "SELECT expires_at - created_at FROM api_tokens WHERE prefix = %s", (prefix,)
        ).fetchone()
    return row[0]


def test_a_new_token_expires_after_90_days_by_default(web_db):
    token = _user_with_token(web_db, "tok-default")
    assert timedelta(days=89, hours=23) < _expiry(web_db, token) <= timedelta(days=90, minutes=1)


def test_an_expired_token_is_refused(base_url, web_db):
    token = _user_with_token(web_db, "tok-expired")
    assert Client(base_url).api("/api/v1/stats", token).status == 200
    with web_db.connect() as conn:
        conn.execute(
            "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE prefix = %s",
            (token.split("_")[1],),
        )
    assert Client(base_url).api("/api/v1/stats", token).status == 401


@pytest.mark.parametrize(
    ("action", "form"),
    [("password", {"password": "a brand new passphrase"}), ("update", {"active": ""})],
    ids=["admin-password-reset", "deactivation"],
)
def test_a_reset_or_deactivation_revokes_every_token(base_url, web_db, clients, action, form):
    name = f"tok-{action}"
    tokens = [_user_with_token(web_db, name) for _ in range(2)]
    assert all(Client(base_url).api("/api/v1/stats", t).status == 200 for t in tokens)
    assert clients["admin"].post(f"/admin/users/{name}/{action}", form).status == 303
    assert [Client(base_url).api("/api/v1/stats", t).status for t in tokens] == [401, 401]
    if action == "update":  # back on: the old tokens stay dead
        clients["admin"].post(f"/admin/users/{name}/update", {"active": "on"})
        assert Client(base_url).api("/api/v1/stats", tokens[0]).status == 401


def test_the_admin_sets_the_lifetime_and_sees_expiry_and_last_use(base_url, web_db, clients):
    _user_with_token(web_db, "tok-admin")
    admin = clients["admin"]
    page = admin.post("/admin/users/tok-admin/token", {"name": "weekly", "days": "7"})
    token = re.search(r"else_[0-9a-f]{8}_[A-Za-z0-9_-]+", page.text).group(0)
    assert timedelta(days=6, hours=23) < _expiry(web_db, token) <= timedelta(days=7, minutes=1)
    assert Client(base_url).api("/api/v1/stats", token).status == 200
    listing = admin.get("/admin/users").text
    row = next(r for r in listing.split("<tr>") if token.split("_")[1] in r)
    assert "never" not in row  # last used: just now; expires: in 7 days
    assert "<th>Expires</th>" in listing


@pytest.mark.parametrize("days", ["0", "-1", "3651", "soon", "1e3"])
def test_a_lifetime_out_of_range_is_refused(clients, days):
    res = clients["admin"].post("/admin/users/tok-admin/token", {"name": "x", "days": days})
    assert res.status == 400
    assert "token lifetime" in res.text


def test_the_account_page_shows_expiry_and_last_use(base_url, web_db):
    from conftest import login

    _user_with_token(web_db, "tok-self")
    page = login(base_url, "tok-self").get("/account").text
    assert "expires 20" in page and "last used never" in page
