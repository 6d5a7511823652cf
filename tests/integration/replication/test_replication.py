"""The split layout: the WUI reads a hot standby and writes the primary (issue 17, part 2).

Two real PostgreSQL clusters on loopback (see conftest.py). Figures printed here (replay
lag after an import) are measurements, never asserted against a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from conftest import FIRST_ID, PASSWORD, Pair, frontend, login, serving
from store_pg import CORPUS, _free_port
from webclient import Client

from else_core import accounts
from else_core.db.routing import ReadOnly, Routes, in_recovery, replay_lag, wal_position
from else_core.errors import ServiceUnavailable
from else_core.search import Query, search_emails
from else_core.store.importer import import_files

pytestmark = pytest.mark.postgres

MORE = (
    "1_bounce_simple.log",
    "2_multiple_recipients_some_bounces.log",
    "6_deferred_message_retry.log",
    "17-smtpd-reject.log",
)
BANNER = "Read-only: the backend database is unreachable"


@pytest.fixture(scope="module")
def admin(wui):
    return login(wui)


@pytest.fixture
def primary_stopped(pair: Pair) -> Iterator[Pair]:
    """The backend's PostgreSQL is down for the test, up again after it."""
    pair.primary.stop()
    try:
        yield pair
    finally:
        pair.primary.start()


def test_the_standby_streams_from_the_primary_as_the_replication_role(pair):
    with pair.primary.admin() as conn:
        rows = conn.execute("SELECT usename, state FROM pg_stat_replication").fetchall()
    with pair.standby.admin() as conn:
        standby = in_recovery(conn)
    assert (rows, standby) == ([("else_replicator", "streaming")], True)


def test_the_standby_replicates_over_verified_tls(pair):
    with pair.primary.admin() as conn:
        row = conn.execute(
            "SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)"
        ).fetchone()
    with pair.standby.admin() as conn:
        conninfo = conn.execute("SHOW primary_conninfo").fetchone()
    assert (row, "sslmode='verify-full'" in str(conninfo)) == ((True,), True)


def test_mail_imported_on_the_primary_is_found_on_the_standby(pair):
    print(f"\nreplay lag after importing one log on the primary: {pair.import_lag * 1000:.1f} ms")
    with psycopg.connect(pair.dsn(pair.standby), autocommit=True) as conn:
        page = search_emails(conn, Query(message_ids=[FIRST_ID]))
    assert [item["doc"]["message_id"] for item in page.items] == [FIRST_ID]


def test_the_standby_catches_up_with_mail_imported_while_it_reads(pair):
    lags = []
    for name in MORE:
        with psycopg.connect(pair.dsn(pair.primary, "else_owner")) as conn:
            import_files(conn, [str(CORPUS / "lightmeter-individual" / name)], year=2026)
        lags.append(pair.replayed())
    with pair.standby.admin("else_db") as conn:
        since_replay = replay_lag(conn)
    counts = []
    for node in (pair.primary, pair.standby):
        with node.admin("else_db") as conn:
            counts.append(conn.execute("SELECT count(*) FROM emails").fetchone())
    print(
        "\nreplay lag after each import: "
        + ", ".join(f"{lag * 1000:.1f} ms" for lag in lags)
        + f"; last replayed transaction {since_replay:.2f} s ago"
    )
    assert counts[0] == counts[1]


def test_the_standby_refuses_writes(pair):
    with (
        psycopg.connect(pair.dsn(pair.standby), autocommit=True) as conn,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        accounts.add_user(conn, "nope", PASSWORD)


def test_the_wui_finds_mail_through_the_standby(admin):
    page = admin.get("/search", q=f"<{FIRST_ID}>")
    assert (page.status, FIRST_ID in page.text, BANNER in page.text) == (200, True, False)


def test_a_search_saved_on_the_wui_is_written_to_the_primary(pair, admin):
    res = admin.post("/searches/save", {"name": "via-primary", "query": "q=mydomain.com"})
    with psycopg.connect(pair.dsn(pair.primary), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM saved_searches WHERE name = 'via-primary'")
        assert (res.status, row.fetchone()) == (303, (1,))


def test_searches_are_served_while_the_primary_is_down(primary_stopped, admin):
    page = admin.get("/search", q=f"<{FIRST_ID}>")
    assert (page.status, FIRST_ID in page.text, BANNER in page.text) == (200, True, True)


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/searches/save", {"name": "while-down", "query": "q=x"}),
        ("/admin/users", {"username": "downuser", "password": PASSWORD}),
        ("/admin/groups", {"name": "downgroup"}),
        ("/account/tz", {"tz": "Europe/Paris"}),
    ],
)
def test_a_write_while_the_primary_is_down_is_refused_clearly(primary_stopped, admin, path, form):
    res = admin.post(path, form)
    assert (res.status, "ELSE is read-only for now" in res.text) == (503, True)


def test_the_api_answers_a_token_while_the_primary_is_down(pair, wui):
    with psycopg.connect(pair.dsn(pair.primary), autocommit=True) as conn:
        token = accounts.create_token(conn, "admin", "down-api", days=1)
    pair.replayed()
    pair.primary.stop()
    try:
        res = Client(wui).api("/api/v1/search", token=token, message_id=FIRST_ID)
    finally:
        pair.primary.start()
    assert (res.status, [e["message_id"] for e in res.json()["emails"]]) == (200, [FIRST_ID])


def test_logging_out_while_the_primary_is_down_ends_this_session(pair, wui):
    c = login(wui)
    pair.primary.stop()
    try:
        out = c.post("/logout").status
        after = c.get("/search").status
    finally:
        pair.primary.start()
    assert (out, after) == (303, 303)


def test_writes_resume_and_replicate_when_the_primary_is_back(pair, admin):
    pair.primary.stop()
    try:
        refused = admin.post("/searches/save", {"name": "after-outage", "query": "q=x"}).status
    finally:
        pair.primary.start()
    saved = admin.post("/searches/save", {"name": "after-outage", "query": "q=x"}).status
    pair.replayed()
    page = admin.get("/searches").text
    assert (refused, saved, "after-outage" in page, BANNER in page) == (503, 303, True, False)


def test_reads_fall_back_to_the_primary_without_a_standby(pair):
    nobody = f"host=127.0.0.1 port={_free_port()} dbname=else_db user=else_web"
    with serving(frontend(nobody, pair.dsn(pair.primary))) as url:
        page = login(url).get("/search", q=f"<{FIRST_ID}>")
    assert (page.status, FIRST_ID in page.text, BANNER in page.text) == (200, True, False)


@pytest.mark.parametrize(
    ("standby", "split"),
    [("", False), ("PRIMARY", False), ("host=127.0.0.1 port=1 dbname=else_db", True)],
)
def test_only_a_distinct_standby_dsn_splits_reads_from_writes(pair, standby, split):
    primary = pair.dsn(pair.primary)
    routes = Routes(primary, primary if standby == "PRIMARY" else standby)
    assert routes.split is split


def test_a_write_connection_to_a_down_primary_is_read_only(pair):
    routes = Routes(pair.dsn(pair.primary), pair.dsn(pair.standby), recheck=60)
    pair.primary.stop()
    try:
        with pytest.raises(ReadOnly):
            routes.write()
        up = routes.primary_up()
    finally:
        pair.primary.start()
    assert (up, routes.primary_up()) == (False, False)  # remembered for `recheck` seconds


def test_ingest_goes_on_while_the_standby_is_down_and_it_catches_up(pair):
    pair.standby.stop()
    try:
        with psycopg.connect(pair.dsn(pair.primary, "else_owner")) as conn:
            name = "28_received_bounce.log"
            res = import_files(conn, [str(CORPUS / "lightmeter-individual" / name)], year=2026)
    finally:
        pair.standby.start()
    lag = pair.replayed()
    print(f"\nthe standby caught up {lag * 1000:.0f} ms after it was started again")
    counts = []
    for node in (pair.primary, pair.standby):
        with node.admin("else_db") as conn:
            counts.append(conn.execute("SELECT count(*) FROM emails").fetchone())
    assert (res.emails > 0, counts[0] == counts[1]) == (True, True)


def test_one_database_down_is_its_own_error_and_tried_again_each_time():
    routes = Routes(f"host=127.0.0.1 port={_free_port()} dbname=else_db user=else_web")
    for _ in range(2):
        with pytest.raises(ServiceUnavailable) as err:
            routes.write()
        assert (type(err.value), "cannot connect to PostgreSQL" in str(err.value)) == (
            ServiceUnavailable,
            True,
        )


def test_acknowledging_an_alert_while_the_primary_is_down_says_why_it_was_not_done(
    primary_stopped, admin
):
    res = admin.post("/alerts/1/ack", {"back": "/alerts"})
    page = admin.get("/alerts").text
    assert (res.status, "ELSE is read-only for now" in page) == (303, True)


@pytest.fixture
def standby_delayed(pair: Pair) -> Iterator[Pair]:
    """The standby applies each commit 30 s late (recovery_min_apply_delay): a replay lag
    long enough that no page in the test can outrun it. Everything before is replayed."""
    pair.replayed()
    with pair.standby.admin() as conn:
        conn.execute("ALTER SYSTEM SET recovery_min_apply_delay = '30s'")
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield pair
    finally:
        with pair.standby.admin() as conn:
            conn.execute("ALTER SYSTEM RESET recovery_min_apply_delay")
            conn.execute("SELECT pg_reload_conf()")
        pair.replayed()


def test_a_session_reads_its_own_write_while_the_standby_lags(admin, standby_delayed, wui):
    writer = login(wui)
    saved = writer.post("/searches/save", {"name": "read-my-write", "query": "q=x"}).status
    mine = writer.get("/searches").text
    # The same account in an older session, whose writes the standby has all: it reads the
    # standby, which does not have the new search yet (the lag is real).
    theirs = admin.get("/searches").text
    listed = '">read-my-write</a>'  # the list entry, not the "Search saved" message
    assert (saved, listed in mine, listed in theirs) == (303, True, False)


def test_reads_go_back_to_the_standby_once_it_has_replayed_the_write(pair):
    routes = Routes(pair.dsn(pair.primary), pair.dsn(pair.standby))
    with routes.write() as conn:
        accounts.add_user(conn, "replayed-user", PASSWORD)
        lsn = wal_position(conn)
    assert lsn is not None
    pair.replayed()
    with routes.read(after=lsn) as conn:
        assert in_recovery(conn)


def test_a_session_whose_write_the_standby_lacks_reads_the_primary(standby_delayed):
    routes = Routes(
        standby_delayed.dsn(standby_delayed.primary), standby_delayed.dsn(standby_delayed.standby)
    )
    with routes.write() as conn:
        accounts.add_user(conn, "delayed-user", PASSWORD)
        lsn = wal_position(conn)
    assert lsn is not None
    with routes.read(after=lsn) as conn:
        primary = not in_recovery(conn)
    with routes.read() as conn:
        standby = in_recovery(conn)
    assert (primary, standby) == (True, True)


@pytest.mark.parametrize("lsn", ["not-a-position", "0/0"])
def test_a_bogus_or_old_position_reads_the_standby(pair, lsn):
    routes = Routes(pair.dsn(pair.primary), pair.dsn(pair.standby))
    with routes.read(after=lsn) as conn:
        assert in_recovery(conn)
