"""The live worker and the bulk import against real PostgreSQL.

The reference for "right" is the correlator itself run over the same lines in memory:
what it finished (drain/finish) plus its open snapshots must be exactly what the
database holds, whichever way the lines got there.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from store_pg import rsyslog_rows, send_rows

from else_core.cli import main as elsectl
from else_core.correlate import Correlator
from else_core.envelope import split_line
from else_core.parser import parse
from else_core.reader import ReadStats, read_events
from else_core.store.importer import import_files
from else_core.store.worker import Worker

pytestmark = pytest.mark.postgres

PIXELPARK = "pixelpark-postfix-logsums-mail.log"
LIGHTMETER = "lightmeter-controlcenter-complete-mail.log"
TABLES = {
    "emails": "SELECT id, message_id, host, sender, status, complete, nrcpt, queue_ids,"
    " first_seen, last_seen, doc FROM emails ORDER BY id",
    "transactions": "SELECT * FROM transactions ORDER BY email_id, idx",
    "email_recipients": "SELECT * FROM email_recipients ORDER BY email_id, idx",
    "deliveries": "SELECT * FROM deliveries ORDER BY email_id, idx",
    "rejects": "SELECT * FROM rejects ORDER BY seq",
}


def dump(db) -> dict[str, list[tuple]]:
    with db.connect() as conn:
        return {name: conn.execute(q).fetchall() for name, q in TABLES.items()}


def outcome(db) -> set[tuple]:
    """What a user sees, independent of raw ids: e-mail, recipient, status, time."""
    with db.connect() as conn:
        return set(
            conn.execute(
                "SELECT e.id, e.status, e.complete, r.address, r.status, r.at"
                " FROM emails e LEFT JOIN email_recipients r ON r.email_id = e.id"
            ).fetchall()
        )


def slice_of(corpus: Path, tmp_path: Path, name: str, lines: int) -> Path:
    out = tmp_path / f"{name}.{lines}"
    with (corpus / name).open() as src, out.open("w") as dst:
        for i, line in enumerate(src):
            if i >= lines:
                break
            dst.write(line)
    return out


def correlate_in_memory(path: Path, *, final: bool, utc: bool = False) -> dict:
    """id -> (status, complete) from the correlator alone.

    ``utc``: stamps as the worker reads them back from timestamptz (the offset the
    line was written with is gone; e-mail ids hash the stamp as given)."""
    corr = Correlator()
    out: dict[str, tuple[str, bool]] = {}
    records = []
    with path.open() as fh:
        for i, raw in enumerate(fh, 1):
            line = split_line(raw.rstrip("\n"), i, year=2026, tz="UTC")
            if utc and line.ts is not None:
                line.ts = line.ts.astimezone(UTC)
            corr.feed(parse(line))
            records.extend(corr.drain())
    records.extend(corr.finish() if final else corr.open_snapshots())
    for rec in records:
        if rec.__class__.__name__ == "Email":
            for gone in rec.merged_ids:
                out.pop(gone, None)
            out[rec.id] = (rec.status, rec.complete)
    return out


def db_emails(db) -> dict[str, tuple[str, bool]]:
    with db.connect() as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, status, complete FROM emails")}


@pytest.fixture(scope="module")
def pixel_slice(corpus, tmp_path_factory) -> Path:
    return slice_of(corpus, tmp_path_factory.mktemp("log"), PIXELPARK, 12000)


def run_worker(db, batch_size: int = 1000) -> None:
    Worker(db.dsn("else_worker"), batch_size=batch_size, gap_wait=0.2).run(once=True)


@pytest.mark.parametrize("log", ["pixel_slice", "lightmeter"])
def test_worker_stores_what_the_correlator_says(db, log, pixel_slice, corpus):
    path = pixel_slice if log == "pixel_slice" else corpus / LIGHTMETER
    with db.connect("else_rsyslog") as conn:
        send_rows(conn, rsyslog_rows(path))
    run_worker(db)
    expected = correlate_in_memory(path, final=False, utc=True)
    assert len(expected) > 20
    assert db_emails(db) == expected


def test_relp_duplicates_create_no_duplicate_deliveries(pg_cluster, db, pixel_slice):
    with db.connect("else_rsyslog") as conn:
        send_rows(conn, rsyslog_rows(pixel_slice, duplicate_every=3))
    run_worker(db)
    from store_pg import Database

    clean = Database(pg_cluster, pg_cluster.create_db(template="else_template"))
    try:
        with clean.connect("else_rsyslog") as conn:
            send_rows(conn, rsyslog_rows(pixel_slice))
        run_worker(clean)
        assert outcome(db) == outcome(clean)
        with db.connect() as conn:
            dup = conn.execute(
                "SELECT count(*) FROM (SELECT email_id, recipient, at FROM deliveries"
                " GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
            ).fetchone()[0]
        assert dup == 0
    finally:
        pg_cluster.drop_db(clean.name)


def test_kill_9_at_any_moment_then_restart_gives_the_same_database(pg_cluster, db, pixel_slice):
    rows = rsyslog_rows(pixel_slice, duplicate_every=7)
    with db.connect("else_rsyslog") as conn:
        send_rows(conn, rows)
    run_worker(db, batch_size=5000)
    reference = dump(db)

    from store_pg import Database

    crashy = Database(pg_cluster, pg_cluster.create_db(template="else_template"))
    elsectl_bin = str(Path(sys.executable).with_name("elsectl"))
    argv = [elsectl_bin, "ingest", "--dsn", crashy.dsn("else_worker"), "--batch-size", "150"]
    try:
        with crashy.connect("else_rsyslog") as conn:
            send_rows(conn, rows)
        kills = 0
        for target in (len(rows) // 5, len(rows) // 2, (len(rows) * 4) // 5):
            proc = subprocess.Popen(argv)
            deadline = time.monotonic() + 60
            with crashy.connect() as conn:
                while time.monotonic() < deadline:
                    row = conn.execute("SELECT cursor FROM ingest_state").fetchone()
                    if row and row[0] >= target:
                        break
                    time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        assert elsectl(["ingest", "--once", "--dsn", crashy.dsn("else_worker")]) == 0
        assert kills == 3
        assert dump(crashy) == reference
    finally:
        pg_cluster.drop_db(crashy.name)


def test_worker_skips_imported_lines_and_reports_lag(db, pixel_slice):
    assert elsectl(["import", "--dsn", db.dsn("else_worker"), str(pixel_slice)]) == 0
    with db.connect("else_rsyslog") as conn:
        send_rows(conn, rsyslog_rows(pixel_slice)[:100])
    with db.connect() as conn:
        conn.execute("INSERT INTO ingest_state (name) VALUES ('live')")
        lag = conn.execute("SELECT lag_lines FROM ingest_lag").fetchone()[0]
    assert lag == 100
    run_worker(db)
    with db.connect() as conn:
        assert conn.execute("SELECT lines FROM ingest_state").fetchone()[0] == 100
        assert conn.execute("SELECT lag_lines FROM ingest_lag").fetchone()[0] == 0


def test_open_email_snapshot_is_replaced_by_its_final_version(db, pixel_slice, tmp_path):
    rows = rsyslog_rows(pixel_slice)
    half = 11000  # an e-mail of this log is still in the queue at this line
    with db.connect("else_rsyslog") as conn:
        send_rows(conn, rows[:half])
    run_worker(db)
    open_before = {i for i, (_, complete) in db_emails(db).items() if not complete}
    assert open_before
    with db.connect("else_rsyslog") as conn:
        send_rows(conn, rows[half:])
    run_worker(db)
    assert db_emails(db) == correlate_in_memory(pixel_slice, final=False, utc=True)


# -- import ---------------------------------------------------------------------------------


def import_(db, *paths, extra=()) -> int:
    return elsectl(["import", "--dsn", db.dsn("else_worker"), *extra, *map(str, paths)])


def test_import_stores_what_the_correlator_says_at_end_of_input(db, pixel_slice, capsys):
    assert import_(db, pixel_slice) == 0
    assert "imported 1 file(s): 12000 lines" in capsys.readouterr().err
    assert db_emails(db) == correlate_in_memory(pixel_slice, final=True)


def test_reimporting_the_same_file_duplicates_nothing(db, pixel_slice, tmp_path, capsys):
    assert import_(db, pixel_slice) == 0
    before = dump(db)
    copy = tmp_path / "renamed.log"
    shutil.copy(pixel_slice, copy)
    assert import_(db, pixel_slice, copy) == 0
    assert "2 already imported, skipped" in capsys.readouterr().err
    assert dump(db) == before
    with db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM raw_events").fetchone()[0] == 12000


def _classic(line: str) -> str:
    """RFC 3339 stamp -> classic `Mon DD HH:MM:SS` (the other format ELSE must read)."""
    stamp, rest = line.split(" ", 1)
    ts = datetime.fromisoformat(stamp).astimezone(UTC)
    return f"{ts:%b} {ts.day:2d} {ts:%H:%M:%S} {rest}"


def test_rotated_set_in_any_order_and_both_formats_equal_one_file(db, pixel_slice, tmp_path):
    lines = pixel_slice.read_text().splitlines(keepends=True)
    third = len(lines) // 3
    (tmp_path / "mail.log").write_text("".join(lines[2 * third :]))
    (tmp_path / "mail.log.1").write_text("".join(_classic(x) for x in lines[third : 2 * third]))
    with gzip.open(tmp_path / "mail.log.2.gz", "wt") as fh:
        fh.write("".join(lines[:third]))
    names = ["mail.log", "mail.log.2.gz", "mail.log.1"]
    assert (
        import_(db, *(tmp_path / n for n in names), extra=["--year", "2023", "--host-tz", "UTC"])
        == 0
    )
    assert db_emails(db) == correlate_in_memory(pixel_slice, final=True)


def test_host_override_applies_to_every_line(db, pixel_slice):
    assert import_(db, pixel_slice, extra=["--host", "mx1"]) == 0
    with db.connect() as conn:
        hosts = {r[0] for r in conn.execute("SELECT DISTINCT host FROM raw_events")}
        ehosts = {r[0] for r in conn.execute("SELECT DISTINCT host FROM emails")}
    assert hosts == {"mx1"} and ehosts == {"mx1"}


def test_import_of_a_missing_file_is_a_clear_error(db, capsys, tmp_path):
    assert import_(db, tmp_path / "nope.log") == 2
    assert "nope.log: no such file" in capsys.readouterr().err


def test_a_restarted_worker_waits_for_the_lock_of_one_just_killed(db):
    """A killed worker's lock lives until PostgreSQL notices its connection is gone."""
    from else_core.store.worker import LOCK_KEY

    elsectl_bin = str(Path(sys.executable).with_name("elsectl"))
    with db.connect() as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        proc = subprocess.Popen([elsectl_bin, "ingest", "--once", "--dsn", db.dsn("else_worker")])
        time.sleep(1.0)  # the worker is now waiting for the lock
        assert proc.poll() is None
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    assert proc.wait(timeout=30) == 0


def test_worker_stops_cleanly_on_sigterm_and_refuses_a_second_instance(db):
    elsectl_bin = str(Path(sys.executable).with_name("elsectl"))
    argv = [elsectl_bin, "ingest", "--dsn", db.dsn("else_worker"), "--poll-interval", "0.2"]
    proc = subprocess.Popen(argv)
    try:
        with db.connect() as conn:
            for _ in range(200):
                if conn.execute("SELECT count(*) FROM ingest_state").fetchone()[0]:
                    break
                time.sleep(0.05)
        second = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)
        assert second.returncode == 2
        assert "already running" in second.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_rollups_stay_exact_when_the_worker_replaces_snapshots(db, pixel_slice):
    from else_core.stats import StatsQuery, compute

    rows = rsyslog_rows(pixel_slice)
    with db.connect("else_rsyslog") as conn:
        send_rows(conn, rows[:11000])
    run_worker(db, batch_size=300)
    with db.connect("else_rsyslog") as conn:
        send_rows(conn, rows[11000:])
    run_worker(db, batch_size=300)
    with db.connect("else_web") as conn:
        fast = compute(conn, StatsQuery())
        slow = compute(conn, StatsQuery(rollups=False))
    assert fast.pop("source") == "rollups" and slow.pop("source") == "scan"
    assert fast == slow and fast["emails"] > 0


REJECT = (
    " NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 554 5.7.1 <x@example.net>: Relay access"
    " denied; from=<s@example.org> to=<x@example.net> proto=ESMTP helo=<scanner>"
)


def _smtpd_row(stamp: datetime, received: float, message: str) -> tuple:
    """A line of one smtpd process as the ompgsql template hands it to else_ingest_line,
    received ``received`` seconds after its stamp."""
    at = (stamp + timedelta(seconds=received)).isoformat()
    return (at, stamp.isoformat(), "pfx", "198.18.0.10", "postfix/smtpd", "4711", "2", "6", message)


def _reject_rows(stamp: datetime, received: list[float]) -> list[tuple]:
    """A session whose reject line arrives once per entry of ``received``."""
    end = stamp + timedelta(seconds=1)
    return [
        _smtpd_row(stamp, 0.1, " connect from unknown[192.0.2.7]"),
        *(_smtpd_row(stamp, s, REJECT) for s in received),
        _smtpd_row(
            end, max(received), " disconnect from unknown[192.0.2.7] ehlo=1 mail=1 rcpt=0/2"
        ),
    ]


WHOLE = datetime(2026, 3, 2, 10, 0, 7, tzinfo=UTC)

RELP_CASES = {
    # A scanner retrying one RCPT: two real lines in one second (whole-second stamps).
    "two real lines of one second": (WHOLE, [0.2, 0.25], 2),
    "a line RELP resent after a reconnect": (WHOLE, [0.2, 5.2], 1),
    "two real lines, both resent": (WHOLE, [0.2, 0.25, 5.2, 5.25], 2),
    "an exact stamp sent again at once": (WHOLE.replace(microsecond=104233), [0.2, 0.25], 1),
}


@pytest.mark.parametrize(("stamp", "received", "stored"), RELP_CASES.values(), ids=RELP_CASES)
def test_the_worker_drops_relp_resends_and_keeps_real_repeats(db, stamp, received, stored):
    with db.connect("else_rsyslog") as conn:
        send_rows(conn, _reject_rows(stamp, received))
    run_worker(db)
    with db.connect() as conn:
        n = conn.execute("SELECT count(*) FROM rejects").fetchone()[0]
    assert n == stored


def test_import_counts_line_kinds_as_parse_does(db, tmp_path):
    """One way to count lines (reader.ReadStats.count_kinds) for `import` and `parse`."""
    log = tmp_path / "mixed.log"
    log.write_text(
        "Mar  2 10:00:01 mx postfix/smtpd[1]: connect from a.example[192.0.2.1]\n"
        "Mar  2 10:00:02 mx postfix/smtpd[1]: something Postfix says that ELSE does not know\n"
        "Mar  2 10:00:03 mx dovecot[2]: imap-login: Login: user=<u>\n"
        "Mar  2 10:00:04 mx amavis[3]: (00003-01) Passed CLEAN {RelayedInbound}, [192.0.2.1]"
        " <s@a.example> -> <u@mx.example>, Queue-ID: 3pJjg82Vycz1JBJG, size: 800, 100 ms\n"
        "not a syslog line at all\n"
    )
    with db.connect("else_worker") as conn:
        imported = import_files(conn, [str(log)], year=2026, host_tz="UTC").stats
    parsed = ReadStats()
    for _ in read_events([str(log)], year=2026, host_tz="UTC", stats=parsed):
        pass
    assert imported.as_dict() == parsed.as_dict()
    assert (parsed.postfix_lines, parsed.unknown_postfix_lines, parsed.foreign_lines) == (2, 1, 2)
    assert (parsed.malformed_lines, parsed.lines) == (1, 5)
