"""The e-mail story on issue 12's paths, served for real: admin actions, audit entries, refusals.

A database of its own (not the shared ``web_db``, whose counts other tests rely on) holds the
hand-made requeue/hold, 4xx-retry, first-RCPT-refusal and delete logs, plus the audit row
ELSE's queue control wrote for the delete; the story page must show each as an event.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from conftest import PASSWORD, WebDB, login, serving

from else_core import accounts
from else_core.snmp.audit import record_control
from else_core.store.importer import import_files
from tests.unit import test_final_status_paths as paths
from webui import create_app

pytestmark = pytest.mark.postgres

# Submitted locally and held at once: Postfix names no recipient until it tries one.
HELD_UNTRIED = """
Mar  3 11:00:01 mail postfix/pickup[2001]: 6A7B8C9D0E: uid=1000 from=<ann@example.org>
Mar  3 11:00:01 mail postfix/cleanup[2002]: 6A7B8C9D0E: message-id=<held-2@example.org>
Mar  3 11:00:01 mail postfix/qmgr[2003]: 6A7B8C9D0E: from=<ann@example.org>, size=900, nrcpt=1 (queue active)
Mar  3 11:00:01 mail postfix/postsuper[2100]: 6A7B8C9D0E: placed on hold
"""
LOGS = (
    paths.DEFERRED_THEN_DELETED,
    paths.HOLD_RELEASE_REQUEUE_HOLD,
    paths.MILTER_TEMPFAIL_THEN_RETRY,
    paths.FIRST_RCPT_REFUSED,
    HELD_UNTRIED,
)
DELETED_AT = datetime(2026, 3, 3, 10, 30, tzinfo=UTC)  # postsuper's "removed" line


@pytest.fixture(scope="module")
def story_site(pg_cluster, web_config, tmp_path_factory) -> Iterator[tuple[WebDB, str]]:
    db = WebDB(pg_cluster, pg_cluster.create_db(template="else_template"))
    log = tmp_path_factory.mktemp("story") / "mail.log"
    log.write_text("".join(x.strip() + "\n" for x in LOGS))
    with psycopg.connect(db.dsn("else_owner")) as conn:
        import_files(conn, [str(log)], year=2026, host_tz="UTC")
    with db.connect("else_web") as conn:
        accounts.add_user(conn, "admin", PASSWORD, is_admin=True)
        accounts.add_user(conn, "carol", PASSWORD, is_admin=False)
        accounts.add_group(conn, "orgs")
        accounts.group_add(conn, "orgs", "user", "carol")
        accounts.group_add(conn, "orgs", "domain", "remote.example")  # the recipient
        audit_id = record_control(
            conn,
            actor="admin",
            server="mail",
            action="delete",
            queue_id="5D6E7F8A9B",
            result="ok",
            message="DONE",
        )
    with db.connect() as conn:  # sent 4 s before Postfix logged the delete
        conn.execute(
            "UPDATE audit_log SET at = %s WHERE id = %s",
            (DELETED_AT - timedelta(seconds=4), audit_id),
        )
    app = create_app(web_config, dsn=db.dsn("else_web"), secret=b"s" * 32, secure_cookies=False)
    try:
        with serving(app) as url:
            yield db, url
    finally:
        pg_cluster.drop_db(db.name)


def story(site: tuple[WebDB, str], message_id: str, user: str = "admin") -> str:
    db, url = site
    with db.connect() as conn:
        (eid,) = conn.execute(
            "SELECT id FROM emails WHERE message_id = %s", (message_id,)
        ).fetchone()
    res = login(url, user).get(f"/email/{eid}")
    assert res.status == 200
    return res.text


def test_deleted_email_story_shows_the_delete_and_who_asked(story_site):
    page = story(story_site, "del-1@example.org")
    assert "deleted from the queue by an administrator" in page
    assert "through ELSE's queue control by <strong>admin</strong> at 2026-03-03 10:29:56" in page
    assert "keeps trying" not in page and "still in progress" not in page


def test_who_asked_is_for_administrators_only(story_site):
    page = story(story_site, "del-1@example.org", user="carol")
    assert "through ELSE's queue control at" in page
    assert "<strong>admin</strong>" not in page


def test_hold_release_requeue_hold_are_events_of_the_story(story_site):
    page = story(story_site, "hold-1@c.example")
    for words in ("put on hold", "released from hold", "requeued by an administrator"):
        assert words in page
    assert page.count('class="t-admin"') == 4


def test_temporary_refusal_shows_as_an_earlier_step(story_site):
    page = story(story_site, "tf-1@c.example")
    assert "refused for now" in page and "4.7.1 Service unavailable" in page
    assert page.count('class="card recipient"') == 1


def test_refused_recipient_is_in_the_story(story_site):
    page = story(story_site, "nq-1@c.example")
    assert "nobody@mail.example" in page
    assert "Recipient address rejected" in page


def test_refused_recipient_search_finds_the_email(story_site):
    db, url = story_site
    with db.connect() as conn:
        (eid,) = conn.execute(
            "SELECT id FROM emails WHERE message_id = 'nq-1@c.example'"
        ).fetchone()
        others = [r[0] for r in conn.execute("SELECT id FROM emails WHERE id <> %s", (eid,))]
    page = login(url, "admin").get("/search?q=nobody%40mail.example").text
    # the e-mail (in the results, and as the e-mail its refusal belongs to), and no other
    assert f'href="/email/{eid}"' in page
    assert not any(f'href="/email/{other}"' in page for other in others)


def test_queue_operations_show_even_before_any_recipient_is_known(story_site):
    page = story(story_site, "held-2@example.org")
    assert "Queue operations" in page and "put on hold by an administrator" in page
