"""The real Postfix workload through ``elsectl import`` and the live worker: same final statuses.

One parser and one correlator serve ``elsectl parse``, ``elsectl import`` and live ingest;
these tests hold the latter two to the first on the workload's log (which the other modules
hold to the workload's own expectations), in the real PostgreSQL the store tests start:
every message's recipients with their statuses, one row each, and a quick search for a
recipient refused before the queue file existed finds its e-mail.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from store_pg import Database, rsyslog_rows, send_rows

from else_core.cli import main as elsectl_main
from else_core.search import Filter, Query, search_emails
from else_core.store.worker import Worker
from tests.support.postfix_workload import (
    Workload,
    expected_status,
    final_address,
    workload,
)

pytestmark = [pytest.mark.root, pytest.mark.postfix, pytest.mark.postgres]

VARIANTS = ("short-ids", "long-ids")
WAYS = ("import", "ingest")
NAMES = [m.name for m in workload()]


@pytest.fixture(scope="module")
def stored(pg_cluster, ground_truth: dict[str, Workload]) -> Iterator[Any]:
    """``stored(variant, way)`` -> the database that way filled from the variant's log."""
    made: dict[tuple[str, str], Database] = {}

    def get(variant: str, way: str) -> Database:
        if (variant, way) not in made:
            db = Database(pg_cluster, pg_cluster.create_db(template="else_template"))
            store_log(db, ground_truth[variant].log_path("classic"), way)
            made[(variant, way)] = db
        return made[(variant, way)]

    yield get
    for db in made.values():
        pg_cluster.drop_db(db.name)


def store_log(db: Database, path: Path, way: str) -> None:
    """``elsectl import`` the log, or send it as rsyslog would and run the live worker."""
    year = datetime.fromtimestamp(path.stat().st_mtime).year  # classic stamps have none
    if way == "import":
        argv = ["import", "--dsn", db.dsn("else_worker"), "--year", str(year), str(path)]
        assert elsectl_main(argv) == 0
    else:
        with db.connect("else_rsyslog") as conn:
            send_rows(conn, rsyslog_rows(path, year=year))
        Worker(db.dsn("else_worker"), batch_size=500, gap_wait=0.2).run(once=True)


def stored_recipients(db: Database, queue_id: str) -> list[tuple[str, str]]:
    """The recipients of the stored e-mail that holds ``queue_id``, one row each."""
    with db.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT email_id FROM transactions WHERE queue_id = %s", (queue_id,)
            )
        ]
        assert len(ids) == 1, f"{queue_id}: held by {ids}"
        rows = conn.execute(
            "SELECT address, status FROM email_recipients WHERE email_id = %s", (ids[0],)
        ).fetchall()
    return sorted((a, s) for a, s in rows)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_store_holds_each_recipient_once_with_its_final_status(
    ground_truth, stored, variant, way, name
):
    wl = ground_truth[variant]
    m = wl.message(name)
    if m.queue_id is None:  # refused before anything was queued: nothing to hold
        return
    got = stored_recipients(stored(variant, way), m.queue_id)
    # What the workload did decides (an alias under the address it forwards to); a
    # recipient still in flight may be missing.
    listed = {a for a, _ in got}
    want = sorted(
        (final_address(r), expected_status(m, r))
        for r in m.recipients
        if expected_status(m, r) != "queued" or final_address(r) in listed
    )
    assert got == want, wl.lines_about(m.queue_id, *m.queue_ids)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_search_for_a_recipient_refused_before_the_queue_file_finds_the_email(
    ground_truth, stored, variant, way
):
    wl = ground_truth[variant]
    m = wl.message("reject-before")
    refused = next(iter(m.refused))
    with stored(variant, way).connect("else_web") as conn:
        page = search_emails(conn, Query(filters=[Filter("recipient", refused)]))
    assert [item["doc"]["message_id"] for item in page.items] == [m.message_id]
    (doc,) = [item["doc"] for item in page.items]
    assert [j["recipient"] for j in doc["rejects"]] == [refused]
