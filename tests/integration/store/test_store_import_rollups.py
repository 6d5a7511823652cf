"""An import's statistics rollups, folded in once per import (else_core.store.rollups).

The oracle is the rollups counted from scratch over the stored rows, with the very SQL
migration m0004 used to fill them for a database that already held data.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from store_pg import Database, rsyslog_rows, send_rows

from else_core.db.migrations.m0004_rollups import _EMAILS, _RECIPIENTS, _REJECTS
from else_core.store import importer
from else_core.store.importer import import_files
from else_core.store.worker import Worker

pytestmark = pytest.mark.postgres

PIXELPARK = "pixelpark-postfix-logsums-mail.log"
ROLLUPS = (
    "SELECT hour::text, host, kind, key, n, bytes FROM stats_hourly",
    "SELECT day::text, host, kind, key, n, bytes FROM stats_daily",
)


def rollups(conn: psycopg.Connection) -> set[tuple]:
    """Rows that count something (a key whose e-mails were all replaced keeps n = 0)."""
    return {row for q in ROLLUPS for row in conn.execute(q).fetchall() if row[4] or row[5]}


def recounted(db: Database) -> set[tuple]:
    """The rollups as a full recount of the search tables gives them (rolled back)."""
    with db.connect() as conn, conn.transaction(force_rollback=True):
        conn.execute("TRUNCATE stats_hourly, stats_daily")
        for body, table in ((_EMAILS, "emails"), (_RECIPIENTS, "email_recipients")):
            conn.execute(body.format(rows=table, sign="1"))
        conn.execute(_REJECTS.format(rows="rejects", sign="1"))
        return rollups(conn)


def stored(db: Database) -> set[tuple]:
    with db.connect() as conn:
        return rollups(conn)


def pending(db: Database) -> int:
    with db.connect() as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM stats_hourly_pending)"
            " + (SELECT count(*) FROM stats_daily_pending)"
        ).fetchone()
        assert row is not None
        return int(row[0])


def first_lines(corpus: Path, tmp_path: Path, n: int) -> Path:
    out = tmp_path / f"first-{n}.log"
    with (corpus / PIXELPARK).open() as src:
        out.write_text("".join(line for _, line in zip(range(n), src, strict=False)))
    return out


def do_import(db: Database, *paths: Path) -> None:
    with psycopg.connect(db.dsn("else_worker")) as conn:
        import_files(conn, [str(p) for p in paths], year=2026, host_tz="UTC")


def one_import(db: Database, corpus: Path, tmp_path: Path) -> None:
    do_import(db, first_lines(corpus, tmp_path, 12000))


def half_then_whole(db: Database, corpus: Path, tmp_path: Path) -> None:
    """The second import rewrites every e-mail of the first (deterministic ids): the
    delete triggers' negative counts go through the pending tables too."""
    do_import(db, first_lines(corpus, tmp_path, 6000))
    do_import(db, first_lines(corpus, tmp_path, 12000))


def live_then_import(db: Database, corpus: Path, tmp_path: Path) -> None:
    """Rollups the live worker upserted directly, then an import on top of them."""
    with db.connect("else_rsyslog") as conn:
        send_rows(conn, rsyslog_rows(first_lines(corpus, tmp_path, 3000)))
    Worker(db.dsn("else_worker"), batch_size=1000, gap_wait=0.2).run(once=True)
    assert stored(db)  # the live path wrote rollups before the import
    do_import(db, first_lines(corpus, tmp_path, 12000))


def several_servers(db: Database, corpus: Path, tmp_path: Path) -> None:
    """The same mail entering through three servers, one of them (hostile) named '*', the
    name of the all-servers rows: the import must count it as the direct triggers do."""
    lines = first_lines(corpus, tmp_path, 12000).read_text().splitlines(keepends=True)
    out = tmp_path / "servers.log"
    with out.open("w") as dst:
        for i, line in enumerate(lines):
            stamp, _host, rest = line.split(" ", 2)
            dst.write(f"{stamp} {('helga', 'mx2', '*')[i * 3 // len(lines)]} {rest}")
    do_import(db, out)


CASES = {
    "one import": one_import,
    "three servers, one named '*'": several_servers,
    "import replacing an earlier import's e-mails": half_then_whole,
    "import on top of live ingest": live_then_import,
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("batch_lines", [500, importer.BATCH_LINES])
def test_import_rollups_equal_a_full_recount(db, corpus, tmp_path, monkeypatch, case, batch_lines):
    monkeypatch.setattr(importer, "BATCH_LINES", batch_lines)
    CASES[case](db, corpus, tmp_path)
    assert stored(db) == recounted(db)
    assert len(stored(db)) > 50


def test_import_leaves_nothing_pending(db, corpus, tmp_path):
    one_import(db, corpus, tmp_path)
    assert pending(db) == 0


def test_deferral_ends_with_the_import_transaction(db, corpus, tmp_path):
    """The same connection's next transaction upserts the rollups directly again."""
    with psycopg.connect(db.dsn("else_worker")) as conn:
        import_files(conn, [str(first_lines(corpus, tmp_path, 6000))], year=2026, host_tz="UTC")
        with conn.transaction():
            setting = conn.execute("SELECT current_setting('else.rollups_deferred', true)")
            row = setting.fetchone()
            assert row is not None and row[0] != "on"
            conn.execute("DELETE FROM emails WHERE id = (SELECT min(id) FROM emails)")
            assert conn.execute("SELECT count(*) FROM stats_daily_pending").fetchone() == (0,)
    assert stored(db) == recounted(db)
