"""The Alerts page and banner over real HTTP, with the store's real PostgreSQL.

Its own database (alerts would put a banner on every other test's pages): the evaluator
opens a real alert from an SNMP sample, then the page shows it, escapes what the summary
carries, acknowledges it with CSRF, and lets only administrators change rules.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from conftest import PASSWORD, WebDB, login, serving
from psycopg.types.json import Jsonb

from else_core import accounts
from else_core.alerts import engine, store
from else_core.alerts.rules import Rule
from else_core.config import Config
from webui import create_app

HOSTILE = '<script>alert("x")</script>'
CONFIG = Config(
    None, {"web": {"timezone": "UTC"}, "servers": [{"name": "pfx", "address": "127.0.0.1"}]}
)


@pytest.fixture
def alerts_db(pg_cluster) -> Iterator[WebDB]:
    name = pg_cluster.create_db(template="else_template")
    db = WebDB(pg_cluster, name)
    with db.connect("else_web") as conn:
        accounts.add_user(conn, "admin", PASSWORD, is_admin=True)
        accounts.add_user(conn, "alice", PASSWORD, is_admin=False)
    yield db
    pg_cluster.drop_db(name)


@pytest.fixture
def url(alerts_db) -> Iterator[str]:
    app = create_app(CONFIG, dsn=alerts_db.dsn("else_web"), secret=b"a" * 32, secure_cookies=False)
    with serving(app) as base:
        yield base


def open_alert(db: WebDB, server: str = "pfx") -> int:
    """A real alert: a queue sample over the rule's threshold, one evaluation round."""
    with db.connect() as owner, db.connect("else_worker") as worker:
        owner.execute("DELETE FROM alert_rules")
        store.add_rule(owner, Rule("queue", "queue_size", 10), "test")
        owner.execute(
            "INSERT INTO snmp_samples (server, at, ok, metrics) VALUES (%s, now(), true, %s)",
            (server, Jsonb({"queues": {"total": 99}})),
        )
        engine.evaluate(worker, CONFIG, datetime.now(UTC))
        [alert] = store.list_alerts(owner)
    return int(alert["id"])


def state_of(db: WebDB, alert_id: int) -> tuple[str, str | None]:
    with db.connect() as conn:
        a = store.alert_detail(conn, alert_id)
    return a["state"], a["acknowledged_by"]


@pytest.mark.parametrize("user", ["admin", "alice"])
def test_the_banner_shows_on_every_page_only_while_alerts_are_open(url, alerts_db, user):
    client = login(url, user)
    assert "alert-banner" not in client.get("/search").text
    open_alert(alerts_db)
    for page in ("/search", "/account", "/alerts"):
        text = client.get(page).text
        assert '<p class="alert-banner" role="alert"><a href="/alerts">1 open alert</a>' in text, (
            page
        )


def test_an_acknowledged_alert_takes_the_banner_away_and_records_who(url, alerts_db):
    alert_id = open_alert(alerts_db)
    alice = login(url, "alice")
    alice.get("/alerts")
    res = alice.post(f"/alerts/{alert_id}/ack", {"back": "/alerts"})
    assert (res.status, res.header("Location")) == (303, f"{url}/alerts")
    assert state_of(alerts_db, alert_id) == ("acknowledged", "alice")
    page = alice.get(f"/alerts/{alert_id}").text
    assert "by alice" in page and "acknowledged" in page
    assert "alert-banner" not in alice.get("/search").text


def test_acknowledging_needs_the_csrf_token(url, alerts_db):
    alert_id = open_alert(alerts_db)
    alice = login(url, "alice")
    res = alice.post(f"/alerts/{alert_id}/ack", {}, csrf="forged")
    assert res.status == 403
    assert state_of(alerts_db, alert_id) == ("open", None)


def test_anonymous_visitors_see_no_alerts(url, alerts_db):
    open_alert(alerts_db)
    from webclient import Client

    res = Client(url).get("/alerts")
    assert res.status in (302, 303) and "/login" in (res.header("Location") or "")


def test_hostile_strings_in_an_alert_are_escaped(url, alerts_db):
    alert_id = open_alert(alerts_db)
    with alerts_db.connect() as conn:
        conn.execute("UPDATE alerts SET summary = %s, subject = %s", (HOSTILE, HOSTILE))
        conn.execute("UPDATE alert_events SET detail = %s", (HOSTILE,))
    admin = login(url, "admin")
    for page in ("/alerts", f"/alerts/{alert_id}"):
        text = admin.get(page).text
        assert HOSTILE not in text, page
        assert (
            html.escape(HOSTILE, quote=False).replace('"', "&#34;") in text
            or "&lt;script&gt;" in text
        )


def test_a_missing_alert_is_a_404(url):
    assert login(url, "admin").get("/alerts/99999").status == 404


RULE_FORM = {
    "name": "gmail deferring",
    "kind": "remote_refusing",
    "threshold": "80",
    "resolve_threshold": "50",
    "window_minutes": "15",
    "clear_after": "2",
    "repeat_minutes": "0",
    "scope": "server:pfx",
    "params": "min_volume=30 by=domain",
    "enabled": "on",
}


def test_an_admin_adds_changes_and_deletes_a_rule(url, alerts_db):
    admin = login(url, "admin")
    admin.get("/alerts")
    assert admin.post("/alerts/rules", RULE_FORM).status == 303
    with alerts_db.connect() as conn:
        rule = store.get_rule(conn, "gmail deferring")
    assert (rule.kind, rule.threshold, rule.scope_value, rule.params) == (
        "remote_refusing",
        80.0,
        "pfx",
        {"min_volume": 30, "by": "domain"},
    )
    page = admin.get("/alerts").text
    assert "gmail deferring" in page
    changed = {**RULE_FORM, "threshold": "90", "scope": "all"}
    changed.pop("enabled")
    assert admin.post("/alerts/rules/gmail%20deferring/set", changed).status == 303
    with alerts_db.connect() as conn:
        rule = store.get_rule(conn, "gmail deferring")
        assert (rule.threshold, rule.scope_kind, rule.enabled) == (90.0, "all", False)
        audit = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert audit[-2:] == ["alert rule add", "alert rule set"]
    assert admin.post("/alerts/rules/gmail%20deferring/delete", {}).status == 303
    with alerts_db.connect() as conn:
        assert [r.name for r in store.load_rules(conn)] == sorted(
            [
                "queue growth",
                "oldest deferred",
                "PFX down",
                "log silence",
                "log lines lost",
                "ingest lag",
            ]
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"threshold": "lots"}, "threshold must be a number, not &#39;lots&#39;"),
        ({"kind": "nope"}, "unknown rule kind"),
        ({"params": "zones"}, "expected KEY=VALUE"),
        ({"name": "a/b"}, "without &#39;/&#39;"),
        ({"resolve_threshold": "99"}, "must not be above the threshold"),
    ],
)
def test_a_bad_rule_form_says_why_and_adds_nothing(url, alerts_db, change, message):
    admin = login(url, "admin")
    admin.get("/alerts")
    res = admin.post("/alerts/rules", {**RULE_FORM, **change})
    assert res.status == 303
    assert message in admin.get("/alerts").text
    with alerts_db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM alert_rules").fetchone()[0] == 6


@pytest.mark.parametrize(
    "path", ["/alerts/rules", "/alerts/rules/queue growth/set", "/alerts/rules/PFX down/delete"]
)
def test_only_admins_change_rules(url, alerts_db, path):
    alice = login(url, "alice")
    alice.get("/alerts")
    res = alice.post(path.replace(" ", "%20"), RULE_FORM)
    assert res.status == 403
    with alerts_db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM alert_rules").fetchone()[0] == 6


def test_users_do_not_get_the_rule_forms(url):
    text = login(url, "alice").get("/alerts").text
    assert 'action="/alerts/rules"' not in text
    assert "queue growth" in text  # but see the rules
