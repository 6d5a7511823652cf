"""The live view's filters (issue 15, item 7): server, sender, recipient and status,
on the page and in the JSON its script fetches."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(
    ("params", "hosts", "senders", "rejects"),
    [
        ({"server": "pfx2"}, {"pfx2"}, {"a4@alpha.example"}, 0),
        ({"sender": "b1@beta"}, {"pfx"}, {"b1@beta.example"}, 0),
        ({"recipient": "a3@alpha"}, set(), set(), 1),
        ({"status": "bounced", "server": "pfx"}, {"pfx"}, {"b1@beta.example"}, 0),
        ({"status": "rejected", "sender": "spam@"}, set(), set(), 1),
    ],
)
def test_the_live_json_follows_the_filters(clients, params, hosts, senders, rejects):
    data = clients["admin"].get("/api/v1/live", **params).json()
    assert {m["host"] for m in data["emails"]} <= hosts
    assert {m["sender"] for m in data["emails"]} >= senders
    assert len(data["rejects"]) == rejects


def test_the_page_hands_its_filters_to_the_script(clients):
    page = clients["admin"].get("/live", server="pfx2", sender="a4").text
    assert 'data-live="/api/v1/live?server=pfx2&amp;sender=a4"' in page
    assert "<option selected>pfx2</option>" in page


def test_an_unknown_status_is_ignored(clients):
    assert clients["admin"].get("/api/v1/live", status="nonsense").status == 200
