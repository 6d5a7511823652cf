"""The queue page's listing after control actions and its answers in plain words
(issue 15, item 4), without Bottle or SNMP."""

from __future__ import annotations

import pytest

from else_core.snmp.model import QueueEntry, QueueRecipient
from webui.queries import control_words, queue_counts, queue_view


def entry(qid: str, queue: str = "deferred", sender: str = "a@x.test", rcpt: str = "b@y.test"):
    return QueueEntry(queue, qid, None, 100, sender, (QueueRecipient(rcpt, None),))


# A listing as the agent cached it before the actions.
STALE = [entry("AAA111"), entry("BBB222"), entry("CCC333", "hold", "c@x.test", "d@z.test")]


@pytest.mark.parametrize(
    ("recent", "expected"),
    [
        ([], {"AAA111": "deferred", "BBB222": "deferred", "CCC333": "hold"}),
        ([("hold", "AAA111")], {"AAA111": "hold", "BBB222": "deferred", "CCC333": "hold"}),
        ([("delete", "BBB222")], {"AAA111": "deferred", "CCC333": "hold"}),
        (
            [("release", "CCC333")],
            {"AAA111": "deferred", "BBB222": "deferred", "CCC333": "deferred"},
        ),
        (
            [("hold", "AAA111"), ("release", "AAA111")],
            {"AAA111": "deferred", "BBB222": "deferred", "CCC333": "hold"},
        ),
        ([("delete", "AAA111"), ("release", "AAA111")], {"BBB222": "deferred", "CCC333": "hold"}),
        ([("requeue", "AAA111")], {"AAA111": "deferred", "BBB222": "deferred", "CCC333": "hold"}),
    ],
)
def test_recent_actions_show_in_a_cached_listing(recent, expected):
    view = queue_view(STALE, recent)
    assert {r["entry"].queue_id: r["queue_name"] for r in view} == expected


def test_an_action_already_in_a_fresh_listing_changes_nothing():
    fresh = [entry("AAA111", "hold")]
    assert [r["queue_name"] for r in queue_view(fresh, [("hold", "AAA111")])] == ["hold"]


@pytest.mark.parametrize(
    ("sender", "recipient", "status", "expected"),
    [
        ("c@x", "", "", ["CCC333"]),
        ("", "Y.TEST", "", ["AAA111", "BBB222"]),
        ("", "", "hold", ["CCC333"]),
        ("", "", "active", []),
        ("a@", "y.test", "deferred", ["AAA111", "BBB222"]),
    ],
)
def test_the_listing_filters_by_sender_recipient_and_queue(sender, recipient, status, expected):
    view = queue_view(STALE, [], sender, recipient, status)
    assert [r["entry"].queue_id for r in view] == expected


def test_the_counts_follow_the_actions():
    assert queue_counts(queue_view(STALE, [("hold", "AAA111")])) == {"hold": 2, "deferred": 1}


@pytest.mark.parametrize(
    ("action", "ok", "message", "words"),
    [
        ("hold", True, "ok", "Message AAA111 on pfx is on hold"),
        ("release", True, "ok", "is released from hold"),
        ("delete", True, "ok", "is deleted from the queue"),
        ("delete", False, "postsuper: AAA111: no such file", "is no longer in the queue"),
        (
            "delete",
            False,
            "5 delete AAA111 failed no message AAA111 in a queue where delete applies",
            "is no longer in the queue",
        ),
        (
            "hold",
            False,
            "5 hold AAA111 failed no message AAA111 in a queue where hold applies",
            "already on hold, or no longer queued",
        ),
        ("hold", False, "permission denied", "Could not hold message AAA111 on pfx"),
        ("flush", True, "ok", "is trying every deferred message again"),
    ],
)
def test_control_answers_are_plain_words(action, ok, message, words):
    qid = None if action == "flush" else "AAA111"
    text = control_words(action, qid, "pfx", ok, message)
    assert words in text
    assert "ok ok" not in text
