"""Migrations, the rsyslog ingest function, roles and retention against real PostgreSQL."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql
from store_pg import PG_BIN, Database

from else_core.cli import main as elsectl
from else_core.db import migrate

pytestmark = pytest.mark.postgres

GOOD = (
    "2026-11-28T10:00:00.000001+00:00",
    "2026-11-28T10:00:00+01:00",
    "pfx",
    "198.18.0.10",
    "postfix/smtpd",
    "1234",
    "2",
    "6",
    " connect from unknown[192.0.2.1]",
)


def schema_dump(db) -> str:
    out = subprocess.run(
        [str(PG_BIN / "pg_dump"), "--schema-only", "--no-owner", db.dsn("postgres")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    skip = ("--", "\\restrict", "\\unrestrict")
    return "\n".join(line for line in out.splitlines() if line and not line.startswith(skip))


def test_fresh_and_upgraded_databases_end_at_the_same_schema(pg_cluster, empty_db):
    other = pg_cluster.create_db()
    try:
        with psycopg.connect(pg_cluster.dsn(other, "else_owner")) as conn:
            assert migrate.upgrade(conn, target=1) == 1
        with psycopg.connect(pg_cluster.dsn(other, "else_owner")) as conn:
            assert migrate.upgrade(conn) == len(migrate.available()) - 1
        with psycopg.connect(empty_db.dsn()) as conn:
            migrate.upgrade(conn)
        assert schema_dump(Database(pg_cluster, other)) == schema_dump(empty_db)
    finally:
        pg_cluster.drop_db(other)


def test_db_upgrade_reports_applied_then_up_to_date(empty_db, capsys):
    assert elsectl(["db", "upgrade", "--dsn", empty_db.dsn()]) == 0
    assert capsys.readouterr().out == f"applied {len(migrate.available())} migrations\n"
    assert elsectl(["db", "upgrade", "--dsn", empty_db.dsn()]) == 0
    assert capsys.readouterr().out == "schema up to date\n"


def test_unreachable_database_is_one_clear_line(capsys, pg_cluster):
    dsn = f"host=127.0.0.1 port={pg_cluster.port + 1} dbname=else user=x password=secret"
    assert elsectl(["db", "upgrade", "--dsn", dsn]) == 3
    err = capsys.readouterr().err
    assert err.startswith("elsectl: error: cannot connect to PostgreSQL")
    assert err.count("\n") == 1
    assert "secret" not in err


BAD_ROWS = [
    pytest.param({0: "not a time"}, "invalid input syntax", id="invalid-received"),
    pytest.param({1: "2026-02-30T10:00:00Z"}, "out of range", id="invalid-reported"),
    pytest.param({0: None}, "received time is NULL", id="null-received"),
    pytest.param({8: None}, "message is NULL", id="null-message"),
    pytest.param({2: None}, "host is NULL", id="null-host"),
    pytest.param({2: "h" * 256}, "host longer than 255", id="long-host"),
    pytest.param({4: "p" * 300}, "program longer than 255", id="long-program"),
    pytest.param({8: "m" * 70000}, "message longer than 65536", id="long-message"),
    pytest.param({5: "12ab"}, "invalid pid", id="bad-pid"),
    pytest.param({5: "99999999999"}, "invalid pid", id="huge-pid"),
    pytest.param({3: "not-an-ip"}, "invalid input syntax for type inet", id="bad-fromip"),
    pytest.param({6: "99"}, "out of range", id="bad-facility"),
    pytest.param({0: "infinity"}, "not finite", id="infinite-time"),
]


def _row(changes: dict[int, str | None], message: str) -> list[str | None]:
    row: list[str | None] = list(GOOD)
    row[8] = message
    for i, v in changes.items():
        row[i] = v
    return row


@pytest.mark.parametrize(("changes", "reason"), BAD_ROWS)
def test_bad_row_goes_to_rejects_and_no_other_row_of_the_batch_is_lost(db, changes, reason):
    """One ompgsql-style transaction: good, bad, good; the function never raises."""
    rows = [_row({}, "first"), _row(changes, "poison"), _row({}, "last")]
    with psycopg.connect(db.dsn("else_rsyslog")) as conn, conn.transaction():
        for row in rows:
            conn.execute("SELECT else_ingest_line(%s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
    with db.connect() as conn:
        stored = [r[0] for r in conn.execute("SELECT message FROM raw_events ORDER BY id")]
        rejects = conn.execute("SELECT reason FROM raw_rejects").fetchall()
    assert stored == ["first", "last"]
    assert len(rejects) == 1
    assert reason in rejects[0][0]


@pytest.mark.parametrize(
    ("pid", "stored"),
    [("1234", 1234), ("-", None), ("", None), (None, None), (" 77 ", 77)],
)
def test_pid_forms_rsyslog_sends_are_accepted(db, pid, stored):
    row = list(GOOD)
    row[5] = pid
    with db.connect("else_rsyslog") as conn:
        conn.execute("SELECT else_ingest_line(%s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
    with db.connect() as conn:
        assert conn.execute("SELECT pid FROM raw_events").fetchall() == [(stored,)]


def test_replacement_characters_and_escaped_controls_are_stored_verbatim(db):
    # mmutf8fix replaces invalid UTF-8 by U+FFFD; rsyslog escapes control chars (NUL as #000).
    row = _row({}, " bad \ufffd\ufffd bytes and NUL #000 here")
    with db.connect("else_rsyslog") as conn:
        conn.execute("SELECT else_ingest_line(%s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
    with db.connect() as conn:
        assert conn.execute("SELECT message FROM raw_events").fetchone()[0] == row[8]


def test_missing_day_partition_is_created_on_demand(db):
    row = _row({0: "2031-05-06T07:08:09Z"}, "future")
    with db.connect("else_rsyslog") as conn:
        conn.execute("SELECT else_ingest_line(%s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
    with db.connect() as conn:
        part = conn.execute("SELECT tableoid::regclass::text FROM raw_events").fetchone()[0]
        assert part == "raw_events_20310506"
        assert conn.execute("SELECT count(*) FROM raw_rejects").fetchone()[0] == 0


def test_ingest_notifies_the_worker(db):
    with db.connect("else_worker") as listener:
        listener.execute("LISTEN else_raw")
        with db.connect("else_rsyslog") as conn:
            conn.execute("SELECT else_ingest_line(%s, %s, %s, %s, %s, %s, %s, %s, %s)", GOOD)
        notes = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.channel for n in notes] == ["else_raw"]


DENIED = [
    ("else_rsyslog", "SELECT * FROM raw_events"),
    (
        "else_rsyslog",
        "INSERT INTO raw_events (received_at, host, message) VALUES (now(), 'h', 'm')",
    ),
    ("else_rsyslog", "SELECT * FROM emails"),
    ("else_rsyslog", "SELECT else_raw_partition(current_date)"),
    (
        "else_web",
        "INSERT INTO emails (id, host, status, complete, doc) VALUES ('x','h','q',true,'{}')",
    ),
    ("else_web", "DELETE FROM raw_events"),
    ("else_web", "SELECT else_prune(now())"),
    ("else_web", "SELECT else_ingest_line(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"),
    ("else_worker", "DELETE FROM raw_events"),
    ("else_worker", "DROP TABLE emails"),
    ("else_worker", "SELECT * FROM users"),
    ("else_worker", "UPDATE raw_events SET message = ''"),
]


@pytest.mark.parametrize(("role", "statement"), DENIED)
def test_roles_get_least_privilege(db, role, statement):
    with db.connect(role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


ALLOWED = [
    ("else_worker", "SELECT count(*) FROM raw_events"),
    ("else_worker", "SELECT else_raw_partition(current_date + 30)"),
    ("else_worker", "INSERT INTO ingest_state (name) VALUES ('x')"),
    ("else_worker", "INSERT INTO snmp_samples (server, ok) VALUES ('pfx', true)"),
    ("else_worker", "UPDATE servers SET down = true"),
    ("else_web", "SELECT count(*) FROM emails JOIN email_recipients ON id = email_id"),
    ("else_web", "INSERT INTO users (username, password_hash) VALUES ('u', '$argon2id$...')"),
    ("else_web", "INSERT INTO audit_log (actor, action) VALUES ('u', 'flush')"),
    ("else_web", "UPDATE users SET timezone = 'Europe/Berlin' WHERE username = 'u'"),
    ("else_web", "SELECT * FROM ingest_lag"),
]


@pytest.mark.parametrize(("role", "statement"), ALLOWED)
def test_roles_can_do_their_job(db, role, statement):
    with db.connect(role) as conn:
        conn.execute(statement)


def test_prune_drops_whole_old_partitions_and_keeps_recent_ones(db, capsys):
    old = _row({0: "2020-01-02T03:04:05Z"}, "old")
    new = _row({0: None}, "new")
    with db.connect() as conn:
        conn.execute("SELECT else_ingest_line(%s, %s, %s, %s, %s, %s, %s, %s, %s)", old)
        new[0] = conn.execute("SELECT now()::text").fetchone()[0]
        conn.execute("SELECT else_ingest_line(%s, %s, %s, %s, %s, %s, %s, %s, %s)", new)
        conn.execute("INSERT INTO snmp_samples (server, at, ok) VALUES ('pfx', '2020-01-01', true)")
    assert elsectl(["db", "prune", "--older-than", "90d", "--dsn", db.dsn("else_worker")]) == 0
    assert re.search(r"raw_partitions=\d+", capsys.readouterr().out)
    with db.connect() as conn:
        assert [r[0] for r in conn.execute("SELECT message FROM raw_events")] == ["new"]
        assert conn.execute("SELECT to_regclass('raw_events_20200102')").fetchone()[0] is None
        assert conn.execute("SELECT count(*) FROM snmp_samples").fetchone()[0] == 0


@pytest.mark.parametrize("age", ["90 days", "-3d", "d", "1y"])
def test_prune_refuses_an_unreadable_age(age, capsys):
    assert elsectl(["db", "prune", f"--older-than={age}", "--dsn", "host=/nonexistent"]) == 2
    assert "invalid age" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "user", "migrated", "message"),
    [
        (["search"], "else_worker", False, "no ELSE schema yet"),
        (["stats"], "else_worker", False, "run `elsectl db upgrade`"),
        (["stats"], "else_rsyslog", True, "permission denied"),
        (["search", "--where", "size:gt=ten"], "else_web", True, "not a number"),
    ],
)
def test_database_problems_are_one_clear_line(
    db, empty_db, capsys, command, user, migrated, message
):
    target = db if migrated else empty_db
    assert elsectl([*command, "--dsn", target.dsn(user)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("elsectl: error: ") and message in err and err.count("\n") == 1


def test_db_status_shows_version_and_lag(db, capsys):
    assert elsectl(["db", "status", "--dsn", db.dsn("else_worker")]) == 0
    status = __import__("json").loads(capsys.readouterr().out)
    assert status["schema_version"] == max(m.version for m in migrate.available())
    assert status["pending"] == []


SEARCH_TABLES = ("emails", "transactions", "email_recipients", "deliveries", "rejects")


def _counts(db: Database) -> dict[str, int]:
    with db.connect() as conn:
        return {
            t: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))
            ).fetchone()[0]
            for t in SEARCH_TABLES
        }


def _import(db: Database, names: list[str], year: int) -> None:
    from store_pg import CORPUS

    from else_core.store.importer import import_files

    logs = [str(CORPUS / "lightmeter-individual" / n) for n in names]
    with db.connect() as conn:
        import_files(conn, logs, year=year, host_tz="UTC")


def test_prune_deletes_the_old_emails_rows_in_every_search_table(db, capsys):
    this_year = datetime.now(UTC).year
    _import(db, ["6_deferred_message_retry.log"], this_year)
    alone = _counts(db)
    # two years back: older than a 365-day retention whatever the log's month and day
    _import(db, ["1_bounce_simple.log", "2_multiple_recipients_some_bounces.log"], this_year - 2)
    both = _counts(db)
    assert all(both[t] > alone[t] for t in ("emails", "transactions", "email_recipients"))
    assert elsectl(["db", "prune", "--older-than", "365d", "--dsn", db.dsn("else_worker")]) == 0
    out = capsys.readouterr().out
    assert _counts(db) == alone
    assert f"transactions={both['transactions'] - alone['transactions']}" in out


def test_upgrading_removes_what_earlier_prunes_left_behind(db):
    _import(db, ["2_multiple_recipients_some_bounces.log", "17-smtpd-reject.log"], 2026)
    with db.connect() as conn:
        conn.execute("DELETE FROM emails")  # what the prune before migration 13 did
        conn.execute("DELETE FROM schema_migrations WHERE version = 13")
    left = _counts(db)
    with db.connect() as conn:
        migrate.upgrade(conn)
    noqueue = {"rejects": _noqueue_rejects(db)}
    assert left["transactions"] > 0
    assert _counts(db) == {**dict.fromkeys(SEARCH_TABLES, 0), **noqueue}


def _noqueue_rejects(db: Database) -> int:
    with db.connect() as conn:
        return conn.execute("SELECT count(*) FROM rejects WHERE email_id IS NULL").fetchone()[0]


@pytest.mark.parametrize("user", ["else_web", "else_worker"])
def test_sessions_of_an_upgraded_database_do_not_jit_compile(empty_db, user):
    # A copy made from a template does not inherit ALTER DATABASE settings: a fresh
    # database, upgraded the way a server is.
    assert elsectl(["db", "upgrade", "--dsn", empty_db.dsn()]) == 0
    with psycopg.connect(empty_db.dsn(user)) as conn:
        assert conn.execute("SHOW jit").fetchone() == ("off",)
