"""Smaller search fixes of issue 15 (item 6): "My searches" in words, once per search,
"1 result"; the Message-ID list result has exports and a history entry, and a pasted
header name is not reported as a missing ID."""

from __future__ import annotations

import pytest
from conftest import login

from else_core import accounts

pytestmark = pytest.mark.postgres


@pytest.fixture
def carol(base_url, web_db):
    """A fresh user, so the history starts empty."""

    with web_db.connect("else_web") as conn:
        if accounts.get_user(conn, "carol15") is None:
            accounts.add_user(conn, "carol15", "correct horse battery", is_admin=True)
        conn.execute(
            "DELETE FROM search_history WHERE user_id = (SELECT id FROM users WHERE username = %s)",
            ("carol15",),
        )
    return login(base_url, "carol15")


def history(client) -> str:
    page = client.get("/searches").text
    return page.split("<h2>History</h2>", 1)[1].split("</section>", 1)[0]


def test_reloading_a_search_adds_one_history_entry(carol):
    for _ in range(3):
        carol.get("/search", q="b1@beta.example")
    assert history(carol).count("<li>") == 1


def test_the_history_says_the_search_in_words(carol):
    carol.get("/search", f="sender", o="ends", v="@alpha.example", status="delivered")
    text = history(carol).split('class="searchtext">', 1)[1].split("</span>", 1)[0]
    assert text == "status is “delivered”, sender ends with “@alpha.example”"


@pytest.mark.parametrize(
    ("q", "results"), [("pfx2-1@alpha.example", "1 result<"), ("zzz-none", "0 results")]
)
def test_the_history_counts_results_in_english(carol, q, results):
    carol.get("/search", q=q)
    assert results in history(carol)


def test_a_message_id_list_has_exports_and_a_history_entry(carol):
    page = carol.post("/search/ids", {"message_ids": "Message-ID: <pfx2-1@alpha.example>"}).text
    assert "Not found" not in page  # "Message-ID:" is a header name, not an ID
    assert "/search/export.csv?message_ids=pfx2-1%40alpha.example" in page
    assert "1 Message-ID" in history(carol)
    body = carol.get("/search/export.csv", message_ids="pfx2-1@alpha.example").text
    assert "pfx2-1@alpha.example" in body and "beta-1@beta.example" not in body
