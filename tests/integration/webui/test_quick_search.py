"""The quick box finds what a helpdesk types: parts of addresses, wildcards, client
names, remote queue IDs, reply text; it says what it searched, shows refusals for the
searched address with their reason in plain words, and offers the extended search filled
in when nothing matched (issue 15, items 1 and 2)."""

from __future__ import annotations

import html
import re
import urllib.parse

import pytest
from conftest import email_id

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("b1@beta", "beta-1@beta.example"),  # a partial address
        ("u2@ext", "beta-1@beta.example"),  # a partial recipient
        ("pfx2-1", "pfx2-1@alpha.example"),  # a part of a Message-ID
        ("*@alpha.example", "pfx2-1@alpha.example"),  # a wildcard sender
        ("u?@ext.example", "pfx2-1@alpha.example"),  # a one-character wildcard
        ("relay.beta.example", "beta-1@beta.example"),  # a client host name
        ("other.example", "pfx2-1@alpha.example"),  # a client host name, another server
        ("99", "pfx2-1@alpha.example"),  # a remote queue ID: 250 ... queued as 99
        ("connection refused", "incoming-1@ext.example"),  # reply text, any case
        ("Message-ID: <pfx2-1@alpha.example>", "pfx2-1@alpha.example"),  # a pasted header
    ],
)
def test_the_quick_box_finds_what_people_type(clients, web_db, q, expected):
    page = clients["admin"].get("/search", q=q).text
    assert f"/email/{email_id(web_db, expected)}" in page


@pytest.mark.parametrize(
    ("q", "searched"),
    [
        ("defer1", "sender contains “defer1”"),
        ("defer1", "reply text contains “queued as defer1”"),
        ("*@sink.test", "recipient matches (* ?) “*@sink.test”"),
        ("relay.beta.example", "client name is “relay.beta.example”"),
        ("Relay access denied", "reply text contains “Relay access denied”"),
    ],
)
def test_the_result_says_what_was_searched(clients, q, searched):
    page = html.unescape(clients["admin"].get("/search", q=q).text)
    assert searched in page


@pytest.mark.parametrize(
    ("q", "field", "op"),
    [
        ("lab-sender", "sender", "contains"),
        ("*@sink.test", "sender", "matches"),
        ("no such words here", "subject", "contains"),
    ],
)
def test_nothing_found_offers_the_extended_search_filled_in(clients, q, field, op):
    page = clients["admin"].get("/search", q=q).text
    assert 'id="nothing"' in page
    assert '<details class="card" id="extended-card" open>' in page
    assert f'<option value="{field}" selected>' in page
    assert f'<option value="{op}" selected>' in page
    assert f'name="v" value="{html.escape(q, quote=True)}"' in page


def test_something_found_does_not_say_nothing_matched(clients):
    assert 'id="nothing"' not in clients["admin"].get("/search", q="b1@beta").text


@pytest.mark.parametrize(
    ("q", "shown", "words"),
    [
        ("a3@alpha.example", "a3@alpha.example", "does not pass mail on to that domain"),
        ("Relay access denied", "a3@alpha.example", "does not pass mail on to that domain"),
        ("spam@ext", "spam@ext.example", "does not pass mail on to that domain"),
        ("h-c715634009216@h-14dc4a6d.com", "h-c715634009216", "mailbox does not exist here"),
    ],
)
def test_refusals_of_the_searched_address_are_listed_with_the_reason(clients, q, shown, words):
    page = clients["admin"].get("/search", q=q).text
    section = page.split('id="refusals"', 1)
    assert len(section) == 2, "no refusals section"
    assert shown in section[1]
    assert words in section[1]
    assert 'id="nothing"' not in page


def test_refusals_respect_the_users_scope(clients):
    # alice sees alpha.example on pfx: a3@alpha.example's refusal; bob (beta) does not.
    assert 'id="refusals"' in clients["alice"].get("/search", q="a3@alpha.example").text
    assert 'id="refusals"' not in clients["bob"].get("/search", q="a3@alpha.example").text


def test_the_export_follows_the_quick_search(clients):
    body = clients["admin"].get("/search/export.csv", q="*@alpha.example").text
    assert "pfx2-1@alpha.example" in body
    assert "beta-1@beta.example" not in body


@pytest.mark.parametrize(
    "q", ["Quartalsbericht", "grüße aus köln", "Köln und"], ids=["word", "decoded", "phrase"]
)
def test_the_quick_box_finds_a_logged_subject(clients, web_db, q):
    page = clients["admin"].get("/search", q=q).text
    assert f"/email/{email_id(web_db, 'subject-1@delta.example')}" in page
    assert "Grüße aus Köln und Quartalsbericht" in page  # the results show the subject


def test_the_story_and_the_exports_show_the_subject(clients, web_db):
    admin = clients["admin"]
    story = admin.get("/email/" + email_id(web_db, "subject-1@delta.example")).text
    assert 'id="subject">Grüße aus Köln und Quartalsbericht<' in story
    body = admin.get("/search/export.csv", q="Quartalsbericht").text
    assert body.splitlines()[0].split(",")[3] == "subject"
    assert "Grüße aus Köln und Quartalsbericht" in body
    data = admin.get("/search/export.json", q="Quartalsbericht").json()
    assert [e["subject"] for e in data["emails"]] == ["Grüße aus Köln und Quartalsbericht"]


def test_the_extended_search_takes_a_subject(clients, web_db):
    page = clients["admin"].get("/search", f="subject", o="contains", v="quartals").text
    assert f"/email/{email_id(web_db, 'subject-1@delta.example')}" in page


def _email_links(page: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'href="/email/([^"?#]+)"', page)))


@pytest.mark.parametrize("q", ["*@alpha.example", "example"])
def test_quick_search_pages_through_every_match_once(clients, q):
    admin = clients["admin"]
    whole = _email_links(admin.get("/search", q=q, limit="1000").text)
    assert len(whole) > 2, whole
    seen: list[str] = []
    params = {"q": q, "limit": "2"}
    for _ in range(len(whole)):
        page = admin.get("/search", **params).text
        seen += _email_links(page)
        nxt = re.search(r'<a class="button" href="\?([^"]*cursor=[^"]*)">Next page</a>', page)
        if nxt is None:
            break
        params = dict(urllib.parse.parse_qsl(html.unescape(nxt.group(1))))
    assert seen == whole
