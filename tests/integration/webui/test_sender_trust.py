"""A group's sender side counts only for trusted mail (issue 16, part 3).

``sender_trust.log``: three e-mails from ceo@alpha.example to beta.example, one forged
from the Internet, one SASL-authenticated, one from alpha's own network 192.0.2.0/24,
and a refusal of a forged one. Tenant A (domain alpha.example, network 192.0.2.0/24)
must not see the forged ones unless its group says "any"; its own database, so the
other tests' data stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import PASSWORD, WebDB, login, serving

from else_core import accounts
from else_core.store.importer import import_files
from webui import create_app

pytestmark = pytest.mark.postgres

LOG = Path(__file__).resolve().parent / "sender_trust.log"
WINDOW = {"since": "2026-03-15", "until": "2026-03-15"}


@pytest.fixture(scope="module")
def trust_db(pg_cluster) -> Iterator[WebDB]:
    name = pg_cluster.create_db(template="else_template")
    db = WebDB(pg_cluster, name)
    with psycopg.connect(db.dsn("else_owner")) as conn:
        import_files(conn, [str(LOG)], year=2026, host_tz="UTC")
    with db.connect("else_web") as conn:
        accounts.add_user(conn, "tenant-a", PASSWORD)
        accounts.add_user(conn, "root", PASSWORD, is_admin=True)
        accounts.add_group(conn, "tenant-a")
        accounts.group_add(conn, "tenant-a", "user", "tenant-a")
        accounts.group_add(conn, "tenant-a", "domain", "alpha.example")
        accounts.group_add(conn, "tenant-a", "network", "192.0.2.0/24")
    yield db
    pg_cluster.drop_db(name)


@pytest.fixture(scope="module")
def url(trust_db, web_config) -> Iterator[str]:
    app = create_app(
        web_config, dsn=trust_db.dsn("else_web"), secret=b"q" * 32, secure_cookies=False
    )
    with serving(app) as base:
        yield base


def _seen(url: str, user: str) -> tuple[set[str], set[str]]:
    c = login(url, user)
    mails = c.api("/api/v1/search", **WINDOW).json()["emails"]
    rejects = c.api("/api/v1/rejects", **WINDOW).json()["rejects"]
    return {m["message_id"] for m in mails}, {j["reason"] for j in rejects}


def _set_trust(trust_db, value: str) -> None:
    with trust_db.connect("else_web") as conn:
        accounts.set_sender_trust(conn, "tenant-a", value)


def test_a_new_group_trusts_only_authenticated_or_own_network_senders(trust_db, url):
    with trust_db.connect("else_web") as conn:
        (group,) = accounts.list_groups(conn)
    assert group.sender_trust == "trusted"
    mails, rejects = _seen(url, "tenant-a")
    assert mails == {"sasl-1@alpha.example", "network-1@alpha.example"}
    assert not any("forged-refusal" in r for r in rejects)


def test_the_any_setting_counts_every_sender_as_before(trust_db, url):
    _set_trust(trust_db, "any")
    try:
        mails, rejects = _seen(url, "tenant-a")
    finally:
        _set_trust(trust_db, "trusted")
    assert "forged-1@alpha.example" in mails
    assert any("forged-refusal" in r for r in rejects)


def test_a_forged_email_is_not_found_by_its_id_either(trust_db, url):
    with trust_db.connect() as conn:
        (eid,) = conn.execute(
            "SELECT id FROM emails WHERE message_id = 'forged-1@alpha.example'"
        ).fetchone()
    assert login(url, "tenant-a").get(f"/email/{eid}").status == 404
    assert login(url, "root").get(f"/email/{eid}").status == 200


def test_the_admin_switches_the_setting_on_the_groups_page(trust_db, url):
    root = login(url, "root")
    assert "sender trust" in root.get("/admin/groups").text
    assert root.post("/admin/groups/tenant-a/trust", {"value": "any"}).status == 303
    with trust_db.connect("else_web") as conn:
        assert accounts.list_groups(conn)[0].sender_trust == "any"
    assert root.post("/admin/groups/tenant-a/trust", {"value": "bogus"}).status == 400
    _set_trust(trust_db, "trusted")


@pytest.mark.parametrize("value", ["192.0.2.0/33", "not-a-net", "300.1.1.1"])
def test_a_bad_network_is_refused(trust_db, value):
    with trust_db.connect("else_web") as conn, pytest.raises(accounts.AccountError):
        accounts.group_add(conn, "tenant-a", "network", value)
