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


def test_the_banner_shows_on_every_page_only_while_alerts_are_open(url, alerts_db):
    client = login(url, "admin")
    assert "alert-banner" not in client.get("/search").text
    open_alert(alerts_db)
    for page in ("/search", "/account", "/alerts"):
        text = client.get(page).text
        assert '<p class="alert-banner" role="alert"><a href="/alerts">1 open alert</a>' in text, (
            page
        )


def test_an_acknowledged_alert_takes_the_banner_away_and_records_who(url, alerts_db):
    alert_id = open_alert(alerts_db)
    admin = login(url, "admin")
    admin.get("/alerts")
    res = admin.post(f"/alerts/{alert_id}/ack", {"back": "/alerts"})
    assert (res.status, res.header("Location")) == (303, f"{url}/alerts")
    assert state_of(alerts_db, alert_id) == ("acknowledged", "admin")
    page = admin.get(f"/alerts/{alert_id}").text
    assert "by admin" in page and "acknowledged" in page
    assert "alert-banner" not in admin.get("/search").text


def test_acknowledging_needs_the_csrf_token(url, alerts_db):
    alert_id = open_alert(alerts_db)
    admin = login(url, "admin")
    res = admin.post(f"/alerts/{alert_id}/ack", {}, csrf="forged")
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


def test_a_scoped_user_sees_no_alert_nor_banner_nor_link(url, alerts_db):
    """Alerts name servers and other tenants' domains: administrators' business only."""
    alert_id = open_alert(alerts_db)
    alice = login(url, "alice")
    search = alice.get("/search").text
    assert "alert-banner" not in search and 'href="/alerts"' not in search
    for path in ("/alerts", f"/alerts/{alert_id}"):
        assert alice.get(path).status == 403, path
    res = alice.post(f"/alerts/{alert_id}/ack", {"back": "/alerts"})
    assert res.status == 403
    assert state_of(alerts_db, alert_id) == ("open", None)


# -- /api/v1/alerts --------------------------------------------------------------------------


def token_of(db: WebDB, name: str) -> str:
    with db.connect("else_web") as conn:
        return accounts.create_token(conn, name, "monitoring")


def test_the_api_lists_unresolved_alerts_for_an_admin_token(url, alerts_db):
    from webclient import Client

    alert_id = open_alert(alerts_db)
    res = Client(url).api("/api/v1/alerts", token_of(alerts_db, "admin"))
    assert res.status == 200
    body = res.json()
    assert body["state"] == "unresolved"
    assert [(a["id"], a["subject"], a["state"], a["rule"]) for a in body["alerts"]] == [
        (alert_id, "pfx", "open", "queue")
    ]


@pytest.mark.parametrize(
    ("state", "listed"),
    [("unresolved", False), ("acknowledged", True), ("open", False), ("all", True)],
)
def test_the_api_filters_alerts_by_state(url, alerts_db, state, listed):
    from webclient import Client

    alert_id = open_alert(alerts_db)
    with alerts_db.connect() as conn:
        store.acknowledge(conn, alert_id, "admin")
    if state == "unresolved":
        listed = True  # acknowledged is still unresolved
    res = Client(url).api("/api/v1/alerts", token_of(alerts_db, "admin"), state=state)
    assert res.status == 200
    assert [a["id"] for a in res.json()["alerts"]] == ([alert_id] if listed else [])


def test_the_api_gives_one_alert_with_its_history(url, alerts_db):
    from webclient import Client

    alert_id = open_alert(alerts_db)
    token = token_of(alerts_db, "admin")
    body = Client(url).api(f"/api/v1/alerts/{alert_id}", token).json()
    assert body["id"] == alert_id
    assert [e["kind"] for e in body["events"]] == ["opened"]
    assert Client(url).api(f"/api/v1/alerts/{alert_id + 1000}", token).status == 404


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"state": "burning"}, "unknown state 'burning'"),
        ({"limit": "0"}, "limit must be a number from 1 to 1000"),
        ({"limit": "lots"}, "limit must be a number from 1 to 1000"),
        ({"subject": "pfx"}, "unknown parameter 'subject'"),
    ],
)
def test_the_api_refuses_bad_alert_parameters(url, alerts_db, params, message):
    from webclient import Client

    res = Client(url).api("/api/v1/alerts", token_of(alerts_db, "admin"), **params)
    assert res.status == 400
    assert message in res.json()["error"]


@pytest.mark.parametrize("path", ["/api/v1/alerts", "/api/v1/alerts/1"])
def test_the_alerts_api_is_for_admins_only(url, alerts_db, path):
    from webclient import Client

    open_alert(alerts_db)
    assert Client(url).api(path, token_of(alerts_db, "alice")).status == 403
    assert Client(url).api(path).status == 401
