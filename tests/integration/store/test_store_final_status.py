"""Issue 12's paths through ``elsectl import`` and live ingest, and the story's audit entries.

The hand-made logs of ``tests/unit/test_final_status_paths.py`` (requeue, hold/requeue/hold,
4xx then retry, first-RCPT refusal, delete) go into a real PostgreSQL both ways; each
recipient must be stored once with the status the unit tests expect. A delete done through
ELSE's queue control (its audit row, written by ``record_control``) is found again by the
story, reading the audit log as the WUI's database role.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from store_pg import rsyslog_rows, send_rows

from else_core.audit import control_rows_for
from else_core.cli import main as elsectl
from else_core.search import Filter, Query, search_emails
from else_core.snmp.audit import record_control
from else_core.store.worker import Worker
from else_core.story import admin_events, match_audit
from tests.unit import test_final_status_paths as paths

pytestmark = pytest.mark.postgres

CASES = {
    "requeue-expired": (paths.REQUEUE_THEN_EXPIRED, {"bo@remote.example": "expired"}),
    "hold-release-requeue-hold": (paths.HOLD_RELEASE_REQUEUE_HOLD, {"r@remote.example": "held"}),
    "milter-4xx-retry": (paths.MILTER_TEMPFAIL_THEN_RETRY, {"r@mail.example": "delivered"}),
    "first-rcpt-refused": (
        paths.FIRST_RCPT_REFUSED,
        {
            "nobody@mail.example": "rejected",
            "a@mail.example": "delivered",
            "b@mail.example": "delivered",
        },
    ),
    "deleted": (paths.DEFERRED_THEN_DELETED, {"bo@remote.example": "deleted"}),
}


def _fill(db, tmp_path: Path, log: str, way: str) -> None:
    path = tmp_path / "mail.log"
    path.write_text(log.strip() + "\n")
    if way == "import":
        argv = ["import", "--dsn", db.dsn("else_worker"), "--year", "2026", "--host-tz", "UTC"]
        assert elsectl([*argv, str(path)]) == 0
    else:
        with db.connect("else_rsyslog") as conn:
            send_rows(conn, rsyslog_rows(path, year=2026))
        Worker(db.dsn("else_worker"), batch_size=100, gap_wait=0.2).run(once=True)


@pytest.mark.parametrize("way", ["import", "ingest"])
@pytest.mark.parametrize("case", list(CASES))
def test_each_recipient_is_stored_once_with_its_final_status(db, tmp_path, case, way):
    log, expected = CASES[case]
    _fill(db, tmp_path, log, way)
    with db.connect() as conn:
        emails = conn.execute("SELECT id FROM emails").fetchall()
        rows = conn.execute("SELECT address, status FROM email_recipients").fetchall()
    assert len(emails) == 1
    assert sorted(rows) == sorted(expected.items())


@pytest.mark.parametrize("way", ["import", "ingest"])
def test_search_for_the_refused_recipient_finds_the_email_and_the_refusal(db, tmp_path, way):
    _fill(db, tmp_path, paths.FIRST_RCPT_REFUSED, way)
    with db.connect("else_web") as conn:
        page = search_emails(conn, Query(filters=[Filter("recipient", "nobody@mail.example")]))
        rejects = conn.execute("SELECT recipient, email_id FROM rejects").fetchall()
    (item,) = page.items
    assert item["doc"]["message_id"] == "nq-1@c.example"
    assert rejects == [("nobody@mail.example", item["doc"]["id"])]


def test_story_finds_the_audit_entry_of_the_delete(db, tmp_path):
    _fill(db, tmp_path, paths.DEFERRED_THEN_DELETED, "import")
    logged = datetime(2026, 3, 3, 10, 30, tzinfo=UTC)  # postsuper's "removed" line
    with db.connect("else_worker") as conn:
        for at, queue_id in ((logged - timedelta(seconds=3), "5D6E7F8A9B"), (logged, "0A0A0A0A0A")):
            audit_id = record_control(
                conn,
                actor="alice",
                server="mail",
                action="delete",
                queue_id=queue_id,
                result="ok",
                message="DONE",
            )
            with db.connect() as owner:  # back-date it: the delete was logged 3 s later
                owner.execute("UPDATE audit_log SET at = %s WHERE id = %s", (at, audit_id))
    with db.connect("else_web") as conn:
        (doc,) = [r[0] for r in conn.execute("SELECT doc FROM emails")]
        events = admin_events(doc)
        match_audit(events, control_rows_for(conn, events))
    assert [(e["action"], e["audit"]) for e in events] == [
        ("delete", {"actor": "alice", "at": (logged - timedelta(seconds=3)).isoformat()})
    ]
