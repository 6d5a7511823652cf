"""Alerting end to end against a real PostgreSQL, a real SMTP receiver, a real webhook
receiver and a real DNS server (all on loopback).

Each rule kind gets the data that should raise it; the round runs as the worker role (the
else-alerts service's), so the grants are tested too. Time is passed to the round, never
waited for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from store_pg import INGEST_SQL

from else_core.alerts import engine, store
from else_core.alerts.rules import Rule
from else_core.cli import main
from else_core.config import Config
from tests.support.dns_zone import DnsZone
from tests.support.smtp_sink import SmtpSink
from tests.support.webhook import WebhookReceiver

NOW = datetime.now(UTC).replace(microsecond=0)
ADMIN = "ok-admin@lab.test"


def config(**alerts: Any) -> Config:
    return Config(
        None,
        {
            "alerts": {"smtp_host": "127.0.0.1", "retry_interval": 60.0, **alerts},
            "servers": [{"name": "pfx", "address": "198.18.0.10"}],
        },
    )


def raw(conn: psycopg.Connection, host: str, at: datetime, program: str, msg: str) -> None:
    conn.execute(
        INGEST_SQL, (at.isoformat(), at.isoformat(), host, "", program, "1", "2", "6", msg)
    )


def sample(conn: psycopg.Connection, total: int, oldest: int = 0, at: datetime = NOW) -> None:
    metrics = {"queues": {"total": total, "deferred": total}, "oldest_deferred_age": oldest}
    conn.execute(
        "INSERT INTO snmp_samples (server, at, ok, metrics) VALUES ('pfx', %s, true, %s)",
        (at, Jsonb(metrics)),
    )


def deliveries(conn: psycopg.Connection, at: datetime, domain: str, statuses: list[str]) -> None:
    for i, status in enumerate(statuses):
        conn.execute(
            "INSERT INTO deliveries (email_id, idx, at, host, recipient, status, relay)"
            " VALUES (%s, %s, %s, 'pfx', %s, %s, %s)",
            (
                f"{domain}-{at:%H%M}-{i}",
                0,
                at,
                f"u{i}@{domain}",
                status,
                f"mx.{domain}[192.0.2.1]:25",
            ),
        )


def only_rule(conn: psycopg.Connection, rule: Rule) -> None:
    conn.execute("DELETE FROM alert_rules")
    store.add_rule(conn, rule, "test")


@pytest.fixture
def conns(db) -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    """(owner connection to set the scene, worker connection the evaluator uses)."""
    with db.connect() as owner, db.connect("else_worker") as worker:
        yield owner, worker


def unresolved(conn: psycopg.Connection) -> dict[str, str]:
    return {r["subject"]: r["state"] for r in store.list_alerts(conn, ("open", "acknowledged"))}


# -- every rule kind raises its alert from the signal it measures ---------------------------


@dataclass
class Case:
    name: str
    rule: Rule
    trouble: Callable[[psycopg.Connection], None]
    subject: str
    calm: Callable[[psycopg.Connection], None] | None = None  # what makes it resolve


def _snmp_down(failures: int) -> Callable[[psycopg.Connection], None]:
    def scene(conn: psycopg.Connection) -> None:
        conn.execute(
            "INSERT INTO servers (name, address, consecutive_failures, down, last_poll,"
            " last_error) VALUES ('pfx', '198.18.0.10', %s, %s, %s, 'timeout')"
            " ON CONFLICT (name) DO UPDATE SET consecutive_failures = EXCLUDED.consecutive_failures",
            (failures, failures > 2, NOW),
        )

    return scene


def _heartbeat_missing(conn: psycopg.Connection) -> None:
    m = (NOW - timedelta(minutes=10)).replace(second=0)
    key = m.strftime("%Y-%m-%dT%H:%MZ")
    raw(conn, "pfx", m + timedelta(seconds=5), "postfix/smtpd", "connect from x")
    raw(
        conn,
        "pfx",
        m + timedelta(minutes=1, seconds=10),
        "else-heartbeat",
        f"mail lines per minute since {key} through {key}: {key}=7",
    )


def _ingest_behind(conn: psycopg.Connection) -> None:
    raw(conn, "pfx", NOW - timedelta(hours=1), "postfix/qmgr", "old line")
    first = conn.execute("SELECT min(id) FROM raw_events").fetchone()[0]
    raw(conn, "pfx", NOW, "postfix/qmgr", "new line")
    conn.execute("INSERT INTO ingest_state (name, cursor) VALUES ('worker', %s)", (first,))


def _rejects(conn: psycopg.Connection) -> None:
    for i in range(30):
        conn.execute(
            "INSERT INTO rejects (seq, at, host, stage, code) VALUES (%s, %s, 'pfx', 'RCPT', '554')",
            (i + 1, NOW - timedelta(minutes=2)),
        )


CASES = [
    Case(
        "queue growth",
        Rule("q", "queue_size", 1000, 500, clear_after=1),
        lambda c: sample(c, 5000),
        "pfx",
        lambda c: sample(c, 3, at=NOW + timedelta(seconds=1)),
    ),
    Case(
        "oldest deferred",
        Rule("o", "oldest_deferred", 3600, clear_after=1),
        lambda c: sample(c, 5, oldest=7200),
        "pfx",
        lambda c: sample(c, 5, oldest=0, at=NOW + timedelta(seconds=1)),
    ),
    Case(
        "PFX not answering SNMP",
        Rule("s", "snmp_down", 2, 0, clear_after=1),
        _snmp_down(3),
        "pfx",
        _snmp_down(0),
    ),
    Case(
        "no log line for N minutes",
        Rule("l", "log_silence", 10, 2, window_minutes=60, clear_after=1),
        lambda c: raw(c, "pfx", NOW - timedelta(minutes=30), "postfix/qmgr", "x"),
        "pfx",
        lambda c: raw(c, "pfx", NOW, "postfix/qmgr", "y"),
    ),
    Case("log lines lost", Rule("g", "log_gap", 0, window_minutes=60), _heartbeat_missing, "pfx"),
    Case(
        "deferral spike over baseline",
        Rule("d", "deferral_rate", 30, params={"min_volume": 10}),
        lambda c: (
            deliveries(c, NOW - timedelta(hours=3), "a.test", ["sent"] * 20),
            deliveries(c, NOW - timedelta(minutes=5), "b.test", ["deferred"] * 8 + ["sent"] * 2),
        ),
        "pfx",
    ),
    Case(
        "bounce spike over baseline",
        Rule("b", "bounce_rate", 30, params={"min_volume": 10}),
        lambda c: deliveries(
            c, NOW - timedelta(minutes=5), "b.test", ["bounced"] * 6 + ["sent"] * 4
        ),
        "pfx",
    ),
    Case("reject spike", Rule("r", "reject_rate", 50, params={"min_volume": 10}), _rejects, "pfx"),
    Case(
        "one domain deferring most mail",
        Rule("gm", "remote_refusing", 80, params={"min_volume": 10}),
        lambda c: (
            deliveries(c, NOW - timedelta(minutes=5), "gmail.test", ["deferred"] * 9 + ["sent"]),
            deliveries(c, NOW - timedelta(minutes=4), "fine.test", ["sent"] * 10),
        ),
        "gmail.test",
    ),
    Case(
        "one relay refusing most mail",
        Rule("mx", "remote_refusing", 80, params={"min_volume": 10, "by": "relay"}),
        lambda c: deliveries(c, NOW - timedelta(minutes=5), "gmail.test", ["bounced"] * 10),
        "mx.gmail.test",
    ),
    Case("ingest lag", Rule("i", "ingest_lag", 600), _ingest_behind, "worker"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_kind_opens_its_alert(conns, case):
    owner, worker = conns
    only_rule(owner, case.rule)
    case.trouble(owner)
    result = engine.evaluate(worker, config(), NOW)
    assert result.errors == {}
    assert unresolved(owner) == {case.subject: "open"}


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.calm], ids=[c.name for c in CASES if c.calm]
)
def test_each_kind_resolves_when_the_cause_goes_away(conns, case):
    owner, worker = conns
    only_rule(owner, case.rule)
    case.trouble(owner)
    engine.evaluate(worker, config(), NOW)
    assert case.calm is not None
    case.calm(owner)
    engine.evaluate(worker, config(), NOW + timedelta(seconds=2))
    assert unresolved(owner) == {}
    [alert] = store.list_alerts(owner, ("resolved",))
    assert alert["subject"] == case.subject


def test_a_server_never_heard_from_is_silent_since_watching_began(conns):
    owner, worker = conns
    only_rule(owner, Rule("l", "log_silence", 10, 2, window_minutes=60, clear_after=1))
    engine.evaluate(worker, config(), NOW)
    assert unresolved(owner) == {}
    engine.evaluate(worker, config(), NOW + timedelta(minutes=11))
    assert unresolved(owner) == {"pfx": "open"}


def test_no_mail_below_the_volume_floor_raises_no_rate_alert(conns):
    owner, worker = conns
    only_rule(owner, Rule("d", "deferral_rate", 30, params={"min_volume": 50}))
    deliveries(owner, NOW - timedelta(minutes=5), "b.test", ["deferred"] * 10)
    engine.evaluate(worker, config(), NOW)
    assert unresolved(owner) == {}


def test_a_spike_that_is_the_usual_rate_is_no_alert(conns):
    owner, worker = conns
    only_rule(owner, Rule("d", "deferral_rate", 30, params={"min_volume": 10}))
    deliveries(owner, NOW - timedelta(hours=2), "a.test", ["deferred"] * 80 + ["sent"] * 20)
    deliveries(owner, NOW - timedelta(minutes=5), "b.test", ["deferred"] * 8 + ["sent"] * 2)
    engine.evaluate(worker, config(), NOW)
    assert unresolved(owner) == {}


@pytest.mark.parametrize(
    ("listed", "domains", "expected"),
    [
        ({"10.0.18.198.bl.lab.test"}, [], {"198.18.0.10": "open"}),
        ({"example.org.bl.lab.test"}, ["example.org"], {"example.org": "open"}),
        (set(), ["example.org"], {}),
    ],
)
def test_dnsbl_listing_opens_and_unlisting_resolves(conns, listed, domains, expected):
    owner, worker = conns
    params = {"zones": ["bl.lab.test"], "domains": domains}
    only_rule(owner, Rule("bl", "dnsbl", 0, clear_after=1, params=params))
    with DnsZone() as zone:
        cfg = config(dns_resolver=f"{zone.host}:{zone.port}")
        zone.listed |= listed
        engine.evaluate(worker, cfg, NOW)
        assert unresolved(owner) == expected
        zone.listed.clear()
        engine.evaluate(worker, cfg, NOW + timedelta(minutes=1))
        assert unresolved(owner) == {}


# -- defaults, isolation -------------------------------------------------------------------


def test_a_fresh_install_has_the_default_rules(conns):
    owner, _ = conns
    kinds = {r.kind for r in store.load_rules(owner, enabled_only=True)}
    assert {"queue_size", "snmp_down", "log_silence", "log_gap"} <= kinds


def test_a_fresh_install_alerts_on_a_pfx_down_with_no_set_up(conns):
    owner, worker = conns
    _snmp_down(3)(owner)
    raw(owner, "pfx", NOW, "postfix/qmgr", "a line")
    result = engine.evaluate(worker, config(), NOW)
    assert result.errors == {}
    assert unresolved(owner) == {"pfx": "open"}
    [alert] = store.list_alerts(owner)
    assert alert["rule"] == "PFX down"


def _polled(
    name: str, failures: int, last_poll: datetime | None
) -> Callable[[psycopg.Connection], None]:
    def scene(conn: psycopg.Connection) -> None:
        conn.execute(
            "INSERT INTO servers (name, address, consecutive_failures, last_poll)"
            " VALUES (%s, '198.18.0.10', %s, %s) ON CONFLICT (name) DO UPDATE"
            " SET consecutive_failures = EXCLUDED.consecutive_failures,"
            " last_poll = EXCLUDED.last_poll",
            (name, failures, last_poll),
        )

    return scene


@pytest.mark.parametrize(
    ("scene", "expected"),
    [
        (_polled("pfx", 0, NOW - timedelta(minutes=30)), {"pfx": "open"}),
        (_polled("pfx", 0, NOW - timedelta(minutes=1)), {}),
        (_polled("pfx", 0, None), {}),
        (_polled("gone", 0, NOW - timedelta(minutes=30)), {}),
    ],
    ids=[
        "a configured server not polled for 30 minutes",
        "a server polled a minute ago",
        "a server never polled yet",
        "a server no longer in else.toml",
    ],
)
def test_a_stopped_poller_reads_as_missed_polls(conns, scene, expected):
    owner, worker = conns
    only_rule(owner, Rule("s", "snmp_down", 2, 0, clear_after=1))
    scene(owner)
    result = engine.evaluate(worker, config(), NOW)
    assert result.errors == {}
    assert unresolved(owner) == expected


def test_the_stopped_poller_alert_says_so_and_resolves_when_polls_resume(conns):
    owner, worker = conns
    only_rule(owner, Rule("s", "snmp_down", 2, 0, clear_after=1))
    _polled("pfx", 0, NOW - timedelta(minutes=30))(owner)
    engine.evaluate(worker, config(), NOW)
    [alert] = store.list_alerts(owner, ("open",))
    assert "30 polls missed" in alert["summary"]
    assert "else-poller" in alert["summary"]
    _polled("pfx", 0, NOW)(owner)
    engine.evaluate(worker, config(), NOW + timedelta(seconds=2))
    assert unresolved(owner) == {}


def test_a_failing_rule_is_recorded_and_the_others_still_run(conns):
    owner, worker = conns
    only_rule(owner, Rule("q", "queue_size", 10))
    store.add_rule(
        owner, Rule("broken", "queue_size", 10, scope_kind="group", scope_value="gone"), "t"
    )
    sample(owner, 50)
    result = engine.evaluate(worker, config(), NOW)
    assert result.errors == {"broken": "rule 'broken': no group named 'gone'"}
    assert unresolved(owner) == {"pfx": "open"}
    errors = {r["name"]: r["last_error"] for r in store.rule_status(owner)}
    assert errors == {"broken": "rule 'broken': no group named 'gone'", "q": None}


def test_an_unreachable_dns_server_keeps_the_alert_as_it_is(conns):
    owner, worker = conns
    only_rule(owner, Rule("bl", "dnsbl", 0, clear_after=1, params={"zones": ["bl.lab.test"]}))
    with DnsZone() as zone:
        zone.listed.add("10.0.18.198.bl.lab.test")
        engine.evaluate(worker, config(dns_resolver=f"{zone.host}:{zone.port}"), NOW)
        port = zone.port
    result = engine.evaluate(worker, config(dns_resolver=f"127.0.0.1:{port}", dns_timeout=0.2), NOW)
    assert "did not answer" in result.errors["bl"]
    assert unresolved(owner) == {"198.18.0.10": "open"}


def test_group_scope_measures_only_the_groups_servers(conns):
    owner, worker = conns
    owner.execute("INSERT INTO groups (name) VALUES ('eu')")
    owner.execute("INSERT INTO group_servers SELECT id, 'pfx2' FROM groups WHERE name = 'eu'")
    only_rule(owner, Rule("q", "queue_size", 10, scope_kind="group", scope_value="eu"))
    sample(owner, 50)  # pfx, not in the group
    engine.evaluate(worker, config(), NOW)
    assert unresolved(owner) == {}


# -- delivery: one message on open, one on resolve, never lost ------------------------------


@pytest.fixture
def receivers() -> Iterator[tuple[SmtpSink, WebhookReceiver]]:
    with SmtpSink() as sink, WebhookReceiver() as hook:
        yield sink, hook


def test_one_message_on_open_and_one_on_resolve(conns, receivers):
    owner, worker = conns
    sink, hook = receivers
    cfg = config(smtp_port=sink.port, mail_to=ADMIN, webhook_url=hook.url)
    only_rule(owner, Rule("q", "queue_size", 1000, 500, clear_after=2))
    for minute, total in enumerate([5000, 6000, 800, 7000, 400, 100]):
        at = NOW + timedelta(minutes=minute)
        sample(owner, total, at=at)
        engine.run_once(worker, cfg, at)
    subjects = [e.headers["Subject"] for e in sink.delivered_to(ADMIN)]
    assert subjects == ["[ELSE OPEN] q: pfx", "[ELSE RESOLVED] q: pfx"]
    assert [(p["event"], p["subject"], p["value"]) for p in hook.posts] == [
        ("opened", "pfx", 5000.0),
        ("resolved", "pfx", 100.0),
    ]


def test_reminders_follow_the_repeat_interval(conns, receivers):
    owner, worker = conns
    sink, _ = receivers
    cfg = config(smtp_port=sink.port, mail_to=ADMIN)
    only_rule(owner, Rule("q", "queue_size", 1000, repeat_minutes=30))
    for minute in range(0, 70, 10):
        at = NOW + timedelta(minutes=minute)
        sample(owner, 5000, at=at)
        engine.run_once(worker, cfg, at)
    subjects = [e.headers["Subject"] for e in sink.delivered_to(ADMIN)]
    assert subjects == ["[ELSE OPEN] q: pfx"] + ["[ELSE STILL OPEN] q: pfx"] * 2


def test_a_webhook_that_fails_is_retried_and_not_lost(conns, receivers):
    owner, worker = conns
    _, hook = receivers
    cfg = config(webhook_url=hook.url, retry_interval=60.0)
    only_rule(owner, Rule("q", "queue_size", 10))
    sample(owner, 50)
    hook.status = 503
    first = engine.run_once(worker, cfg, NOW)
    assert (first.sent, first.failed) == (0, 1)
    [alert] = store.list_alerts(owner)
    [d] = store.alert_detail(owner, alert["id"])["deliveries"]
    assert (d["state"], d["attempts"], d["last_error"]) == (
        "pending",
        1,
        f"webhook {hook.url}: HTTP 503 Service Unavailable",
    )
    hook.status = 200
    early = engine.run_once(worker, cfg, NOW + timedelta(seconds=30))
    assert early.sent == 0  # not due before the retry interval
    later = engine.run_once(worker, cfg, NOW + timedelta(seconds=61))
    assert later.sent == 1
    assert [p["event"] for p in hook.posts] == ["opened"]


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"mail_to": ADMIN, "smtp_port": 1}, "SMTP relay 127.0.0.1:1: Connection refused"),
        (
            {"webhook_url": "http://127.0.0.1:1/hook"},
            "webhook http://127.0.0.1:1/hook: Connection refused",
        ),
    ],
)
def test_an_unreachable_channel_is_a_clear_error_and_gives_up_after_max_attempts(
    conns, settings, error
):
    owner, worker = conns
    cfg = config(max_attempts=2, retry_interval=1.0, **settings)
    only_rule(owner, Rule("q", "queue_size", 10))
    sample(owner, 50)
    engine.run_once(worker, cfg, NOW)
    engine.run_once(worker, cfg, NOW + timedelta(seconds=5))
    [alert] = store.list_alerts(owner)
    [d] = store.alert_detail(owner, alert["id"])["deliveries"]
    assert (d["state"], d["attempts"], d["last_error"]) == ("failed", 2, error)


def test_the_rule_evaluation_does_not_wait_for_a_failing_channel(conns):
    """The state change is committed before any message is tried."""
    owner, worker = conns
    cfg = config(mail_to=ADMIN, smtp_port=1)
    only_rule(owner, Rule("q", "queue_size", 10))
    sample(owner, 50)
    result = engine.run_once(worker, cfg, NOW)
    assert (result.opened, result.failed) == (1, 1)
    assert unresolved(owner) == {"pfx": "open"}


# -- the CLI -------------------------------------------------------------------------------


def cli(db, *args: str) -> int:
    return main(["alert", "--dsn", db.dsn("else_worker"), *args])


def test_ack_records_who_and_stops_reminders(db, conns, capsys):
    owner, worker = conns
    only_rule(owner, Rule("q", "queue_size", 10, repeat_minutes=1))
    sample(owner, 50)
    engine.run_once(worker, config(), NOW)
    [alert] = store.list_alerts(owner)
    assert cli(db, "ack", str(alert["id"]), "--by", "alice") == 0
    assert cli(db, "show", str(alert["id"]), "--format", "json") == 0
    out = capsys.readouterr().out.splitlines()[-1]
    shown = json.loads(out)
    assert (shown["state"], shown["acknowledged_by"]) == ("acknowledged", "alice")
    assert [e["kind"] for e in shown["events"]] == ["opened", "acknowledged"]
    sample(owner, 50, at=NOW + timedelta(minutes=5))
    engine.run_once(worker, config(), NOW + timedelta(minutes=5))
    kinds = [e["kind"] for e in store.alert_detail(owner, alert["id"])["events"]]
    assert kinds == ["opened", "acknowledged"]
    audit = owner.execute(
        "SELECT actor, action FROM audit_log WHERE action = 'alert ack'"
    ).fetchall()
    assert audit == [("alice", "alert ack")]


def test_rule_add_set_delete_round_trip(db, capsys):
    assert (
        cli(
            db,
            "rule",
            "add",
            "gmail",
            "--kind",
            "remote_refusing",
            "--threshold",
            "80",
            "--window",
            "15",
            "--param",
            "min_volume=30",
            "--server",
            "pfx",
            "--by",
            "bob",
        )
        == 0
    )
    assert cli(db, "rule", "set", "gmail", "--threshold", "90", "--resolve-threshold", "50") == 0
    assert cli(db, "rule", "show", "gmail") == 0
    out = capsys.readouterr().out
    assert "gmail: remote_refusing > 90/50, window 15 min" in out
    assert '{"min_volume": 30}' in out and "server pfx" in out
    assert cli(db, "rule", "delete", "gmail") == 0
    assert cli(db, "rule", "show", "gmail") == 2
    assert "no alert rule named 'gmail'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rule", "add", "x", "--kind", "nope", "--threshold", "1"], "unknown rule kind 'nope'"),
        (
            ["rule", "add", "queue growth", "--kind", "queue_size", "--threshold", "1"],
            "exists already",
        ),
        (["rule", "add", "x", "--kind", "dnsbl", "--threshold", "0"], "needs zones"),
        (
            ["rule", "add", "x", "--kind", "queue_size", "--threshold", "1", "--param", "zones"],
            "'zones': expected KEY=VALUE",
        ),
        (
            [
                "rule",
                "add",
                "x",
                "--kind",
                "queue_size",
                "--threshold",
                "1",
                "--server",
                "a",
                "--group",
                "b",
            ],
            "give one of",
        ),
        (["rule", "set", "queue growth"], "nothing to change"),
        (["rule", "set", "missing", "--threshold", "3"], "no alert rule named 'missing'"),
        (["ack", "999"], "no alert 999"),
        (["show", "999"], "no alert 999"),
        (["rule", "delete", "missing"], "no alert rule named 'missing'"),
    ],
)
def test_bad_arguments_get_a_clear_error(db, capsys, args, message):
    assert cli(db, *args) == 2
    assert message in capsys.readouterr().err


def test_acknowledging_twice_says_why_not(db, conns, capsys):
    owner, worker = conns
    only_rule(owner, Rule("q", "queue_size", 10))
    sample(owner, 50)
    engine.run_once(worker, config(), NOW)
    [alert] = store.list_alerts(owner)
    assert cli(db, "ack", str(alert["id"])) == 0
    assert cli(db, "ack", str(alert["id"])) == 2
    assert "is acknowledged, not open" in capsys.readouterr().err


def test_run_once_and_list(db, conns, capsys, monkeypatch, tmp_path):
    owner, _ = conns
    only_rule(owner, Rule("q", "queue_size", 10))
    sample(owner, 50)
    conf = tmp_path / "else.toml"
    conf.write_text('[alerts]\nmail_to = ""\n[[servers]]\nname = "pfx"\naddress = "198.18.0.10"\n')
    monkeypatch.setenv("ELSE_CONFIG", str(conf))
    assert cli(db, "run", "--once") == 0
    assert "1 rules evaluated: 1 opened, 0 resolved" in capsys.readouterr().out
    assert cli(db, "list") == 0
    assert "open" in capsys.readouterr().out


def test_an_unreachable_database_is_one_line(capsys):
    assert main(["alert", "--dsn", "host=127.0.0.1 port=1 dbname=x", "list"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("elsectl: error: cannot connect to PostgreSQL") and "Traceback" not in err
