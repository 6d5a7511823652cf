"""What an import reads of the rows already stored: the work PostgreSQL itself counts.

Each batch of an import used to delete its e-mails' earlier rows from every child table
by ``email_id = ANY(...)``. Without statistics inside the import's transaction that was
planned as a sequential scan, so every batch read every child row stored before it and
an import slowed down with its own length. Only e-mails already in ``emails`` have rows
to replace; these tests count, in pg_stat_user_tables, the child rows each import read.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from store_pg import Database

from else_core.store import importer
from else_core.store.importer import import_files

pytestmark = pytest.mark.postgres

LOG = "lightmeter-controlcenter-complete-mail.log"  # 7,534 lines, 372 deliveries
CHILDREN = ("transactions", "email_recipients", "deliveries")


def lines(corpus: Path, tmp_path: Path, start: int, stop: int) -> Path:
    out = tmp_path / f"lines-{start}-{stop}.log"
    with (corpus / LOG).open("rb") as src:
        out.write_bytes(b"".join(line for i, line in enumerate(src) if start <= i < stop))
    return out


def do_import(db: Database, path: Path) -> None:
    with psycopg.connect(db.dsn("else_worker")) as conn:
        import_files(conn, [str(path)], year=2026, host_tz="UTC")


def child_reads(db: Database) -> dict[str, int]:
    """Rows each child table gave to sequential scans so far, once the statistics show
    the import (its backend reports them when its connection ends, a moment later; the
    e-mails' count tells when: counting the child tables would itself scan them)."""
    deadline = time.monotonic() + 30
    with db.connect() as conn:
        conn.autocommit = True
        emails = conn.execute("SELECT count(*) FROM emails").fetchone()[0]
        while True:
            stats = dict(
                conn.execute(
                    "SELECT relname, array[seq_tup_read, n_tup_ins - n_tup_del]"
                    " FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                    ([*CHILDREN, "emails"],),
                ).fetchall()
            )
            if stats.get("emails", [0, -1])[1] == emails and len(stats) == 4:
                return {t: stats[t][0] for t in CHILDREN}
            assert time.monotonic() < deadline, f"statistics never caught up: {stats}"
            time.sleep(0.2)
            conn.execute("SELECT pg_stat_clear_snapshot()")


@pytest.mark.parametrize("stored_before", [False, True], ids=["empty", "other-mail-stored"])
def test_an_import_of_new_mail_reads_no_stored_child_row(
    db, corpus, tmp_path, monkeypatch, stored_before
):
    monkeypatch.setattr(importer, "BATCH_LINES", 250)  # many batches: 16 of them
    if stored_before:
        do_import(db, lines(corpus, tmp_path, 4000, 7534))
    before = child_reads(db)
    do_import(db, lines(corpus, tmp_path, 0, 4000))
    after = child_reads(db)
    with db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] > 100
    assert {t: after[t] - before[t] for t in CHILDREN} == dict.fromkeys(CHILDREN, 0)


def test_an_import_of_stored_mail_replaces_it(db, corpus, tmp_path, monkeypatch):
    """The other side of the rule: e-mails already stored are found and replaced (a
    duplicate would be refused by the primary key and land in store_rejects)."""
    monkeypatch.setattr(importer, "BATCH_LINES", 250)
    do_import(db, lines(corpus, tmp_path, 0, 3000))
    with db.connect() as conn:
        first = {r[0] for r in conn.execute("SELECT id FROM emails").fetchall()}
    do_import(db, lines(corpus, tmp_path, 0, 6000))  # a longer file: a new fingerprint
    with db.connect() as conn:
        now = {r[0] for r in conn.execute("SELECT id FROM emails").fetchall()}
        refused = conn.execute("SELECT count(*) FROM store_rejects").fetchone()[0]
        orphans = conn.execute(
            "SELECT count(*) FROM deliveries d WHERE NOT EXISTS"
            " (SELECT 1 FROM emails e WHERE e.id = d.email_id)"
        ).fetchone()[0]
    assert len(first) > 30
    assert first <= now and len(now) > len(first)
    assert (refused, orphans) == (0, 0)
