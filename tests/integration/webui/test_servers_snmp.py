"""The Servers page end to end: a real Postfix queue, the snmpd role's real agent, the app.

The SNMP side's fixtures (tests/integration/snmp: a throwaway Postfix whose mail is
always deferred, and snmpd configured from the role's templates on a loopback port)
give a real queue; the page lists it and its buttons hold, release and delete a
message, each action audited with who, what and the PFX's answer.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PASSWORD, login, serving

SNMP_TESTS = Path(__file__).resolve().parents[1] / "snmp"
if str(SNMP_TESTS) not in sys.path:
    sys.path.insert(0, str(SNMP_TESTS))

from snmp_env import AUTH_PASS, PRIV_PASS, USER, wait_for  # noqa: E402

from else_core.config import Config  # noqa: E402
from tests.integration.snmp.conftest import postfix, snmpd  # noqa: E402, F401 - their fixtures
from webui import create_app  # noqa: E402

pytestmark = [pytest.mark.postgres, pytest.mark.snmpd, pytest.mark.postfix, pytest.mark.root]


@pytest.fixture(scope="module")
def snmp_url(web_db, snmpd) -> Iterator[str]:  # noqa: F811
    cfg = Config(
        None,
        {
            "snmp": {
                "user": USER,
                "auth_key": AUTH_PASS,
                "priv_key": PRIV_PASS,
                "port": snmpd.port,
                "timeout": 2.0,
                "retries": 1,
            },
            "servers": [{"name": "pfx", "address": "127.0.0.1", "role": "mixed"}],
        },
    )
    app = create_app(cfg, dsn=web_db.dsn("else_web"), secret=b"t" * 32, secure_cookies=False)
    with serving(app) as url:
        yield url


def _wait_queue(postfix, queue_id: str, want: str | None) -> str | None:  # noqa: F811
    wait_for(lambda: postfix.queue_of(queue_id) == want, 15, f"{queue_id} in {want}")
    return postfix.queue_of(queue_id)


def test_the_queue_listing_and_its_buttons_control_the_real_queue(snmp_url, postfix, web_db):  # noqa: F811
    qid = postfix.submit("someone@remote.test")
    admin = login(snmp_url, "admin", PASSWORD)

    def listed() -> str | None:
        text = admin.get("/servers/pfx").text
        return text if qid in text else None

    page = wait_for(listed, 10, f"{qid} in the page's queue listing")
    assert "someone@remote.test" in page
    assert re.search(rf'name="queue_id" value="{qid}"', page)

    for action, where in (("hold", "hold"), ("release", "deferred"), ("delete", None)):
        res = admin.post(
            "/servers/pfx/control", {"action": action, "queue_id": qid, "confirm": "yes"}
        )
        assert res.status == 303
        assert _wait_queue(postfix, qid, where) == where
    with web_db.connect() as conn:
        rows = conn.execute(
            "SELECT action, actor, result FROM audit_log WHERE target = %s ORDER BY id",
            (f"pfx:{qid}",),
        ).fetchall()
    assert rows == [
        ("snmp.hold", "admin", "ok"),
        ("snmp.release", "admin", "ok"),
        ("snmp.delete", "admin", "ok"),
    ]
    # The agent caches the listing for a second (snmpd_queue_list_cache_time in the test).
    wait_for(
        lambda: qid not in admin.get("/servers/pfx").text.split("Queue listing")[1],
        10,
        f"{qid} to leave the page's queue listing",
    )


def test_the_queue_page_tells_the_truth_right_after_bulk_actions(snmp_url, postfix):  # noqa: F811
    """Two messages held and deleted in one action each: the very next page shows them
    held, then gone, in words a helpdesk reads; a second delete says they are gone."""
    one, two = postfix.submit("first@remote.test"), postfix.submit("second@remote.test")
    admin = login(snmp_url, "admin", PASSWORD)
    wait_for(lambda: two in admin.get("/servers/pfx").text, 10, f"{two} listed")

    def rows(page: str) -> dict[str, str]:
        listing = page.split('id="queue-count"', 1)[1]
        found = re.findall(
            r'<td data-label="Queue">(\w+)</td><td class="mono"[^>]*><a[^>]*>(\w+)<', listing
        )
        return {qid: queue for queue, qid in found}

    res = admin.post(
        "/servers/pfx/control", {"action": "hold", "queue_id": [one, two], "confirm": "yes"}
    )
    assert res.status == 303
    page = admin.get("/servers/pfx").text
    assert "Hold: 2 of 2 messages on pfx done." in page
    assert rows(page)[one] == rows(page)[two] == "hold"
    assert "hold 2" in page.split('id="queues-now">', 1)[1].split("</dd>", 1)[0]

    only = admin.get("/servers/pfx", recipient="second@", status="hold").text
    assert set(rows(only)) == {two}

    admin.post(
        "/servers/pfx/control", {"action": "delete", "queue_id": [one, two], "confirm": "yes"}
    )
    page = admin.get("/servers/pfx").text
    assert one not in rows(page) and two not in rows(page)
    _wait_queue(postfix, one, None)

    admin.post("/servers/pfx/control", {"action": "delete", "queue_id": one, "confirm": "yes"})
    again = admin.get("/servers/pfx").text
    assert "ok ok" not in again
    assert re.search(rf"Message {one} (is no longer in the queue|is deleted)", again), again[:3000]
