"""Who sees what: admins everything, users their groups' domains on their groups' servers.

Each case asks for one e-mail by every route a crafted URL or API call could take (the
story page, the JSON detail, the API search, the search page, the CSV export) and
expects the same answer from all of them: the store's SQL decides, not the templates.
"""

from __future__ import annotations

import pytest
from conftest import SINCE, UNTIL, email_id

from else_core import accounts

pytestmark = pytest.mark.postgres

ALPHA_OUT = "\"><script>alert('mid')</script>@alpha.example"  # a1@alpha -> ext, on pfx
BETA_OUT = "beta-1@beta.example"  # b1@beta -> ext, on pfx
ALPHA_IN = "incoming-1@ext.example"  # ext -> a2@alpha, on pfx
ALPHA_PFX2 = "pfx2-1@alpha.example"  # a4@alpha -> ext, on pfx2 (not alpha's server)
CORPUS_MAIL = "264dc34c-ad52-466c-6d41-6622dfced3b8@mydomain.com"  # host "mail"

CASES = [
    ("admin", ALPHA_OUT, True),
    ("admin", BETA_OUT, True),
    ("admin", ALPHA_PFX2, True),
    ("admin", CORPUS_MAIL, True),
    ("alice", ALPHA_OUT, True),
    ("alice", ALPHA_IN, True),
    ("alice", BETA_OUT, False),
    ("alice", ALPHA_PFX2, False),
    ("alice", CORPUS_MAIL, False),
    ("bob", BETA_OUT, True),
    ("bob", ALPHA_OUT, False),
    ("bob", ALPHA_IN, False),
    ("nobody", ALPHA_OUT, False),
    ("nobody", BETA_OUT, False),
]


@pytest.mark.parametrize(("user", "message_id", "visible"), CASES)
def test_every_route_to_an_email_obeys_the_scope(clients, web_db, user, message_id, visible):
    c = clients[user]
    eid = email_id(web_db, message_id)
    assert c.get(f"/email/{eid}").status == (200 if visible else 404)
    assert c.get(f"/api/v1/emails/{eid}").status == (200 if visible else 404)
    found = c.get("/api/v1/search", message_id=message_id).json()["emails"]
    assert (eid in [e["id"] for e in found]) is visible
    assert found if visible else not found
    page = c.get("/search", q=f"<{message_id}>").text
    assert (f"/email/{eid}" in page) is visible
    export = c.get("/search/export.csv", message_id=message_id).text
    assert (eid in export) is visible


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("alice", {ALPHA_OUT, ALPHA_IN}),
        ("bob", {BETA_OUT}),
        ("nobody", set()),
    ],
)
def test_an_unfiltered_search_returns_only_the_users_mail(clients, user, expected):
    res = clients[user].get("/api/v1/search", since=SINCE, until=UNTIL, limit=1000).json()
    assert {e["message_id"] for e in res["emails"]} == expected
    assert res["total"] == len(res["emails"])


@pytest.mark.parametrize(
    ("user", "reject_visible"), [("admin", True), ("alice", True), ("bob", False)]
)
def test_rejects_obey_the_scope(clients, user, reject_visible):
    rows = clients[user].get("/api/v1/rejects", since=SINCE, until=UNTIL, limit=1000).json()
    mine = [r for r in rows["rejects"] if r["recipient"] == "a3@alpha.example"]
    assert bool(mine) is reject_visible
    if user == "bob":
        assert rows["rejects"] == []


@pytest.mark.parametrize(("user", "emails"), [("alice", 2), ("bob", 2), ("nobody", 0)])
def test_statistics_count_only_the_users_mail(clients, user, emails):
    res = clients[user].get("/api/v1/stats", since=SINCE, until=UNTIL).json()
    assert res["emails"] == emails
    senders = {r["key"] for r in res["top_senders"]}
    assert "b1@beta.example" not in senders or user != "alice"


def test_a_user_cannot_pick_a_group_that_is_not_theirs(clients):
    res = clients["alice"].get("/api/v1/stats", since=SINCE, until=UNTIL, group="beta")
    assert res.status == 400


def test_a_group_filter_narrows_an_admins_report(clients):
    res = clients["admin"].get("/api/v1/stats", since=SINCE, until=UNTIL, group="beta").json()
    assert res["emails"] == 2  # beta-1, sent twice


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users",
        "/admin/groups",
        "/admin/audit",
        "/servers",
        "/servers/pfx",
        "/servers/pfx/queues.svg",
        "/admin/audit.csv",
    ],
)
def test_admin_pages_are_refused_to_users(clients, path):
    assert clients["alice"].get(path).status == 403


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/users", {"username": "mallory", "password": "0123456789ab", "admin": "on"}),
        ("/admin/users/alice/update", {"admin": "on", "active": "on"}),
        ("/admin/groups/alpha/bind", {"kind": "domain", "value": "beta.example"}),
        ("/servers/pfx/control", {"action": "hold", "queue_id": "3C4D5E6F7A", "confirm": "yes"}),
    ],
)
def test_admin_actions_are_refused_to_users(clients, web_db, path, data):
    assert clients["alice"].post(path, data).status == 403
    with web_db.connect() as conn:
        assert accounts.get_user(conn, "mallory") is None
        assert not accounts.get_user(conn, "alice").is_admin
        alpha = next(g for g in accounts.list_groups(conn) if g.name == "alpha")
        assert alpha.domains == ("alpha.example",)


def test_a_bearer_token_sees_what_its_user_sees_until_revoked(anon, web_db):
    with web_db.connect("else_web") as conn:
        token = accounts.create_token(conn, "alice", "test")
    res = anon.api("/api/v1/search", token, since=SINCE, until=UNTIL)
    assert res.status == 200
    assert {e["message_id"] for e in res.json()["emails"]} == {ALPHA_OUT, ALPHA_IN}
    assert "Set-Cookie" not in res.headers  # token calls make no session
    prefix = token.split("_")[1]
    with web_db.connect("else_web") as conn:
        accounts.revoke_token(conn, "alice", prefix)
    assert anon.api("/api/v1/search", token).status == 401


@pytest.mark.parametrize(
    "token", ["else_deadbeef_notreal", "garbage", "Bearer", "else_" + "x" * 300]
)
def test_unknown_tokens_are_refused(anon, token):
    assert anon.api("/api/v1/search", token).status == 401


def test_a_token_does_not_open_the_html_pages(anon, web_db):
    with web_db.connect("else_web") as conn:
        token = accounts.create_token(conn, "admin", "pages")
    res = anon.request("GET", "/admin/users", headers={"Authorization": f"Bearer {token}"})
    assert res.status == 303
