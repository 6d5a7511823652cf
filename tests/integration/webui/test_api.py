"""The JSON API: the CLI's parameter names, ``Email.to_dict()`` objects, cursors, errors."""

from __future__ import annotations

import json

import pytest
from conftest import SINCE, UNTIL, email_id

from tests.support.cli import elsectl

pytestmark = pytest.mark.postgres

SUMMARY_KEYS = {
    "type",
    "id",
    "message_id",
    "host",
    "sender",
    "size",
    "client",
    "client_ip",
    "helo",
    "sasl_username",
    "first_seen",
    "last_seen",
    "status",
    "complete",
    "transactions",
    "recipients",
    "rejects",
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sender": "b1@beta.example"}, {"beta-1@beta.example"}),
        ({"recipient": "a2@alpha.example"}, {"incoming-1@ext.example"}),
        ({"message_id": "<beta-1@beta.example>"}, {"beta-1@beta.example"}),
        ({"queue_id": "2B3C4D5E6F"}, {"beta-1@beta.example"}),
        ({"status": "deferred", "host": "pfx"}, {"incoming-1@ext.example"}),
        ({"client": "198.51.100.9"}, {"pfx2-1@alpha.example"}),
        ({"sender": "alpha.example", "host": "pfx2"}, {"pfx2-1@alpha.example"}),
        (
            {"since": "2026-03-14T10:15:00Z", "until": "2026-03-14T10:25:00Z"},
            {"incoming-1@ext.example"},
        ),
    ],
)
def test_search_parameters_are_the_clis(clients, params, expected):
    res = clients["admin"].get("/api/v1/search", **params)
    assert res.status == 200
    body = res.json()
    assert {e["message_id"] for e in body["emails"]} == expected
    assert all(set(e) >= SUMMARY_KEYS for e in body["emails"])
    assert body["next"] is None


def test_search_answers_like_elsectl_search(clients, web_db):
    api = clients["admin"].get("/api/v1/search", sender="b1@beta.example").json()["emails"]
    cli = elsectl(
        "search", "--dsn", web_db.dsn("else_web"), "--sender", "b1@beta.example", "--format", "json"
    )
    assert [json.loads(line) for line in cli.stdout.splitlines()] == api


def test_the_cursor_walks_every_page_once(clients):
    c = clients["admin"]
    seen, cursor = [], None
    while True:
        params = {"since": SINCE, "until": UNTIL, "limit": 4}
        if cursor:
            params["cursor"] = cursor
        body = c.get("/api/v1/search", **params).json()
        seen += [e["id"] for e in body["emails"]]
        cursor = body["next"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == body["total"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "invalid time"),
        ({"limit": "many"}, "limit must be a number"),
        ({"cursor": "not-a-cursor"}, "invalid page cursor"),
        ({"size": "big"}, "not a number"),
        ({"status": "x", "status_op": "contains"}, "does not apply"),
        ({"sendr": "b1@beta.example"}, "unknown parameter 'sendr'"),
    ],
)
def test_bad_parameters_are_a_400_with_a_reason(clients, params, message):
    res = clients["admin"].get("/api/v1/search", **params)
    assert res.status == 400
    assert message in res.json()["error"]


def test_email_detail_has_the_story_and_the_raw_lines(clients, web_db):
    eid = email_id(web_db, "beta-1@beta.example")
    body = clients["admin"].get(f"/api/v1/emails/{eid}").json()
    assert body["email"]["id"] == eid
    assert body["email"]["transactions"][0]["attempts"][0]["dsn"] == "5.1.1"
    assert any("status=bounced" in line["message"] for line in body["lines"])


def test_rejects_endpoint_lists_noqueue_refusals(clients):
    body = (
        clients["admin"]
        .get("/api/v1/rejects", since=SINCE, until=UNTIL, client_ip="192.0.2.9")
        .json()
    )
    assert len(body["rejects"]) == 1
    r = body["rejects"][0]
    assert (r["code"], r["dsn"], r["recipient"]) == ("554", "5.7.1", "a3@alpha.example")


def test_stats_carry_the_cli_figures_and_the_report_extras(clients, web_db):
    api = clients["admin"].get("/api/v1/stats", since=SINCE, until=UNTIL).json()
    cli = json.loads(
        elsectl(
            "stats",
            "--dsn",
            web_db.dsn("else_web"),
            "--since",
            SINCE,
            "--until",
            UNTIL,
            "--format",
            "json",
        ).stdout
    )
    for key in ("emails", "bytes", "recipients", "rejects", "emails_by_status", "top_senders"):
        assert api[key] == cli[key], key
    assert {"direction", "deferrals", "bounces"} <= set(api)
    assert sum(r["e_mails"] for r in api["direction"]) == api["emails"]
