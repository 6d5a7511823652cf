"""The API's page cursor carries its search (issue 15, item 6): ``?cursor=`` alone, as
docs/api.md shows it, continues the filtered search instead of returning all mail; a
cursor given with different filters is refused."""

from __future__ import annotations

import pytest
from conftest import SINCE, UNTIL

pytestmark = pytest.mark.postgres

FILTERED = {"sender": "alpha.example", "since": SINCE, "until": UNTIL, "limit": 1}


def pages(c, first: dict) -> list[set[str]]:
    body = c.get("/api/v1/search", **first).json()
    out = [{e["sender"] for e in body["emails"]}]
    while body["next"]:
        body = c.get("/api/v1/search", cursor=body["next"]).json()
        out.append({e["sender"] for e in body["emails"]})
    return out


def test_a_bare_cursor_continues_the_filtered_search(clients):
    walked = pages(clients["admin"], FILTERED)
    assert len(walked) >= 2
    assert set().union(*walked) <= {"a1@alpha.example", "a4@alpha.example"}


@pytest.mark.parametrize(
    ("again", "status"),
    [({**FILTERED}, 200), ({**FILTERED, "sender": "beta.example"}, 400)],
    ids=["same-filters", "other-filters"],
)
def test_a_cursor_with_filters_must_be_its_own_search(clients, again, status):
    c = clients["admin"]
    cursor = c.get("/api/v1/search", **FILTERED).json()["next"]
    res = c.get("/api/v1/search", **{**again, "cursor": cursor})
    assert res.status == status
