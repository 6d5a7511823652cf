"""A scoped user sees only the recipients and raw lines in their scope (issue 16, part 2).

``shared_recipients.log``: one e-mail from outside@ext.example to carol@alpha.example,
dave@beta.example (through a relay and with an answer that are beta's business) and
eve@gamma.example (a bounce naming her). Carol's address, the alpha.example domain,
the sender's domain and the administrator look at it; its own database, so the other
tests' counts do not change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import PASSWORD, WebDB, login, serving
from webclient import Client

from else_core import accounts
from else_core.store.importer import import_files
from webui import create_app

pytestmark = pytest.mark.postgres

LOG = Path(__file__).resolve().parent / "shared_recipients.log"
#: Everything that would tell about dave's or eve's copy.
OTHERS = ("dave@beta.example", "eve@gamma.example", "secret-relay", "beta-internal-ticket-42",
          "gamma-secret", "mx.gamma.example")  # fmt: skip
#: user -> (group, kind, value); "" = administrator
VIEWERS = {
    "carol": ("carol-only", "address", "carol@alpha.example"),
    "alphadom": ("alpha-domain", "domain", "alpha.example"),
    "senderdom": ("ext-domain", "domain", "ext.example"),
    "boss": None,
}


@pytest.fixture(scope="module")
def shared(pg_cluster, web_config) -> Iterator[tuple[str, str]]:
    """(base URL, the e-mail's ID) on a database holding only the shared e-mail."""
    name = pg_cluster.create_db(template="else_template")
    db = WebDB(pg_cluster, name)
    with psycopg.connect(db.dsn("else_owner")) as conn:
        import_files(conn, [str(LOG)], year=2026, host_tz="UTC")
    with db.connect("else_web") as conn:
        for user, group in VIEWERS.items():
            accounts.add_user(conn, user, PASSWORD, is_admin=group is None)
            if group:
                accounts.add_group(conn, group[0])
                accounts.group_add(conn, group[0], "user", user)
                accounts.group_add(conn, group[0], group[1], group[2])
        # The sender's own relay: its mail counts for the sender's group ("trusted").
        accounts.group_add(conn, "ext-domain", "network", "203.0.113.0/24")
        (eid,) = conn.execute(
            "SELECT id FROM emails WHERE message_id = 'shared-1@ext.example'"
        ).fetchone()
    app = create_app(web_config, dsn=db.dsn("else_web"), secret=b"r" * 32, secure_cookies=False)
    with serving(app) as url:
        yield url, eid
    pg_cluster.drop_db(name)


@pytest.fixture(scope="module")
def viewers(shared) -> dict[str, Client]:
    return {user: login(shared[0], user) for user in VIEWERS}


@pytest.mark.parametrize("user", ["carol", "alphadom"])
def test_a_recipient_scoped_user_finds_the_email_but_not_the_other_recipients(
    shared, viewers, user
):
    page = viewers[user].get(f"/email/{shared[1]}")
    assert page.status == 200
    assert "carol@alpha.example" in page.text
    assert "2 other recipients outside your scope, not shown." in page.text
    assert "lines about recipients outside your scope, not shown." in page.text
    for secret in OTHERS:
        assert secret not in page.text


@pytest.mark.parametrize("user", ["carol", "alphadom"])
def test_the_api_gives_a_scoped_user_only_their_recipients_and_the_count(shared, viewers, user):
    res = viewers[user].api(f"/api/v1/emails/{shared[1]}")
    body = res.json()
    assert [r["address"] for r in body["email"]["recipients"]] == ["carol@alpha.example"]
    assert body["email"]["hidden_recipients"] == 2
    assert body["hidden_lines"] == 2
    attempts = [a["to"] for t in body["email"]["transactions"] for a in t["attempts"]]
    assert attempts == ["carol@alpha.example"]
    for secret in OTHERS:
        assert secret not in res.text


@pytest.mark.parametrize("user", ["carol", "alphadom"])
def test_search_results_show_a_scoped_user_only_their_recipients(shared, viewers, user):
    res = viewers[user].api("/api/v1/search", since="2026-03-01", until="2026-03-31")
    (doc,) = res.json()["emails"]
    assert [r["address"] for r in doc["recipients"]] == ["carol@alpha.example"]
    assert not any(s in json.dumps(doc) for s in OTHERS)


@pytest.mark.parametrize("user", ["senderdom", "boss"])
def test_the_sender_side_and_administrators_see_every_recipient(shared, viewers, user):
    page = viewers[user].get(f"/email/{shared[1]}")
    assert page.status == 200
    for secret in OTHERS:
        assert secret in page.text
    assert "outside your scope" not in page.text
    body = viewers[user].api(f"/api/v1/emails/{shared[1]}").json()
    assert len(body["email"]["recipients"]) == 3


#: Searches that match only dave's or eve's copy: (field, operator, value).
OTHERS_SEARCHES = [
    ("recipient", "equals", "dave@beta.example"),
    ("recipient", "contains", "eve@"),
    ("recipient_domain", "equals", "beta.example"),
    ("relay", "contains", "secret-relay"),
    ("response", "contains", "beta-internal-ticket-42"),
    ("status", "equals", "bounced"),
]


def _found(client: Client, field: str, op: str, value: str) -> int:
    res = client.api(
        "/api/v1/search",
        since="2026-03-01",
        until="2026-03-31",
        **{field: value, f"{field}_op": op},
    )
    assert res.status == 200, res.text
    return len(res.json()["emails"])


@pytest.mark.parametrize("user", ["carol", "alphadom"])
@pytest.mark.parametrize(("field", "op", "value"), OTHERS_SEARCHES)
def test_a_recipient_scoped_user_cannot_find_the_email_through_other_recipients(
    viewers, user, field, op, value
):
    """Finding the shared e-mail by dave's address would tell carol that dave got it."""
    assert _found(viewers[user], field, op, value) == 0


@pytest.mark.parametrize("user", ["carol", "alphadom"])
def test_a_recipient_scoped_user_finds_the_email_through_their_own_recipient(viewers, user):
    assert _found(viewers[user], "recipient", "equals", "carol@alpha.example") == 1
    assert _found(viewers[user], "relay", "contains", "store.alpha") == 1


@pytest.mark.parametrize("user", ["senderdom", "boss"])
@pytest.mark.parametrize(("field", "op", "value"), OTHERS_SEARCHES)
def test_the_sender_side_and_administrators_find_it_through_any_recipient(
    viewers, user, field, op, value
):
    assert _found(viewers[user], field, op, value) == 1
