"""Traffic by server role and per-server reports, from two real Postfix servers (issue 17).

The run of test_two_hosts.py (an inbound ``in.test`` relaying to an outbound ``out.test``,
then the sink) is imported into a real PostgreSQL with one more log from a third server
(``mail``, the lightmeter corpus). ``elsectl servers sync`` writes the roles of else.toml
into the database; the reports then count the crossing e-mail once per role it crossed,
its way as "incoming → outgoing", and it belongs to both servers' reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from store_pg import CORPUS, Database

from else_core.cli import main as elsectl_main
from else_core.scope import Scope
from else_core.search import Query, search_emails
from else_core.stats import REPORTS, Period, report_totals
from tests.integration.postfix.test_postfix_into_store import store_log
from tests.integration.postfix.test_two_hosts import TwoHosts, two_hosts  # noqa: F401 - fixture

pytestmark = [pytest.mark.root, pytest.mark.postfix, pytest.mark.postgres]

ROLES = {"in": "incoming", "out": "outgoing", "mail": "mixed"}
THIRD = CORPUS / "lightmeter-individual" / "11_single_successful_delivery.log"
WIDE = Period(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def stored(two_hosts: TwoHosts, pg_cluster, tmp_path_factory) -> Iterator[Database]:  # noqa: F811
    db = Database(pg_cluster, pg_cluster.create_db(template="else_template"))
    toml = tmp_path_factory.mktemp("roles") / "else.toml"
    toml.write_text(
        "".join(
            f'[[servers]]\nname = "{n}"\naddress = "127.0.0.{i}"\nrole = "{r}"\n'
            for i, (n, r) in enumerate(ROLES.items(), 1)
        )
    )
    try:
        store_log(db, two_hosts.logs["inbound-first"], "import")
        argv = ["import", "--dsn", db.dsn("else_worker"), "--year", "2026", str(THIRD)]
        assert elsectl_main(argv) == 0
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("ELSE_CONFIG", str(toml))
            assert elsectl_main(["servers", "sync", "--dsn", db.dsn("else_worker")]) == 0
        db.config = toml  # the test's else.toml, for a second sync and the file report
        db.log = two_hosts.logs["inbound-first"]
        yield db
    finally:
        pg_cluster.drop_db(db.name)


def _report(db: Database, name: str, server: str | None = None) -> dict[str, int]:
    p = Period(WIDE.since, WIDE.until, server=server)
    with db.connect() as conn:
        return {r[0]: r[1] for r in REPORTS[name].run(conn, p)}


def test_servers_sync_writes_the_configured_roles(stored):
    with stored.connect() as conn:
        rows = dict(conn.execute("SELECT name, role FROM servers").fetchall())
    assert rows == ROLES


def test_servers_sync_again_changes_nothing(stored, capsys):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ELSE_CONFIG", str(stored.config))
        assert elsectl_main(["servers", "sync", "--dsn", stored.dsn("else_worker")]) == 0
    assert capsys.readouterr().out == "servers up to date (3 configured)\n"


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("roles", {"incoming": 1, "outgoing": 1, "mixed": 1}),
        ("way", {"incoming → outgoing": 1, "mixed": 1}),
    ],
)
def test_traffic_is_split_by_server_role(stored, name, want):
    assert _report(stored, name) == want


@pytest.mark.parametrize(
    ("server", "emails"), [("in", 1), ("out", 1), ("mail", 1), (None, 2), ("nowhere", 0)]
)
def test_a_per_server_report_counts_every_email_the_server_handled(stored, server, emails):
    with stored.connect() as conn:
        totals = report_totals(conn, Period(WIDE.since, WIDE.until, server=server))
    assert totals["emails"] == emails


@pytest.mark.parametrize(
    ("servers", "crossing", "third"),
    [(("out",), True, False), (("in",), True, False), (("mail",), False, True)],
    ids=["bound to the outbound server", "bound to the inbound server", "bound to another"],
)
def test_a_group_bound_to_a_server_sees_the_mail_that_crossed_it(stored, servers, crossing, third):
    with stored.connect("else_web") as conn:
        every = search_emails(conn, Query(limit=100), None).items
        seen = {
            r["doc"]["id"]
            for r in search_emails(conn, Query(limit=100), Scope(servers=servers)).items
        }
    hosts = {r["doc"]["id"]: r["doc"]["host"] for r in every}
    [crossing_id] = [i for i, h in hosts.items() if h == "in"]
    [third_id] = [i for i, h in hosts.items() if h == "mail"]
    assert (crossing_id in seen, third_id in seen) == (crossing, third)


def test_the_outbound_servers_report_has_the_crossing_emails_recipients(stored):
    got = _report(stored, "recipients", "out")
    assert sorted(got) == sorted(["ok-twohosts@sink.test", "bad-twohosts@sink.test", "tmp-twohosts@sink.test"])  # fmt: skip


def test_elsectl_stats_splits_traffic_by_role_and_way(stored, capsys):
    argv = ["stats", "--dsn", stored.dsn("else_worker"), "--format", "json", "--by-role"]
    assert elsectl_main([*argv, "--since", "2000-01-01", "--until", "2100-01-01"]) == 0
    out = json.loads(capsys.readouterr().out)
    got = {k: {r["key"]: r["emails"] for r in out[k]} for k in ("by_role", "ways")}
    assert got == {"by_role": _report(stored, "roles"), "ways": _report(stored, "way")}


def test_elsectl_stats_text_names_the_ways(stored, capsys):
    argv = ["stats", "--dsn", stored.dsn("else_worker"), "--since", "2000-01-01", "--by-role"]
    assert elsectl_main(argv) == 0
    text = capsys.readouterr().out
    assert "Way through the servers:" in text and "incoming → outgoing" in text


def test_elsectl_stats_leaves_the_role_scan_out_unless_asked(stored, capsys):
    argv = ["stats", "--dsn", stored.dsn("else_worker"), "--format", "json"]
    assert elsectl_main(argv) == 0
    assert {"by_role", "ways"} & set(json.loads(capsys.readouterr().out)) == set()


@pytest.mark.parametrize(
    ("hosts", "ways"),
    [
        ([], {"incoming → outgoing": 1}),
        (["--host", "in"], {"incoming": 1}),
        (["--host", "out"], {"outgoing": 1}),
    ],
)
def test_elsectl_report_from_files_splits_by_way_and_limits_to_a_server(
    stored, capsys, hosts, ways
):
    log = str(stored.log)
    argv = ["report", "--config", str(stored.config), "--format", "json", *hosts, log]
    assert elsectl_main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert {r["way"]: r["emails"] for r in report["ways"]} == ways


def test_elsectl_report_without_roles_has_no_ways(stored, capsys):
    assert elsectl_main(["report", "--format", "json", str(stored.log)]) == 0
    assert "ways" not in json.loads(capsys.readouterr().out)
