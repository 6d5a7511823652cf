"""The e-mail story's admin actions, their audit entries and earlier refusals.

Built from correlated logs (the issue 12 cases) and hand-made ``audit_log`` rows shaped the
way :func:`else_core.snmp.audit.record_control` writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from else_core.story import add_events, admin_events, match_audit
from tests.unit.test_correlate import emails, run
from tests.unit.test_final_status_paths import (
    DEFERRED_THEN_DELETED,
    HOLD_RELEASE_REQUEUE_HOLD,
    MILTER_TEMPFAIL_THEN_RETRY,
    REQUEUE_THEN_EXPIRED,
)


def doc_of(log: str) -> dict[str, Any]:
    (mail,) = emails(run(log))
    return mail.to_dict(detail=True)


def story_of(doc: dict[str, Any]) -> dict[str, Any]:
    """What the WUI view builds before it calls add_events: attempts per recipient."""
    attempts = [dict(a) for t in doc["transactions"] for a in t["attempts"]]
    return {
        "recipients": [
            {"r": r, "attempts": [a for a in attempts if a["to"] == r["address"]], "words": "x"}
            for r in doc["recipients"]
        ]
    }


def audit_row(action: str, target: str, at: str, result: str = "ok") -> dict[str, Any]:
    return {
        "at": datetime.fromisoformat(at).replace(tzinfo=UTC),
        "actor": "alice",
        "action": f"snmp.{action}",
        "target": target,
        "result": result,
    }


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (DEFERRED_THEN_DELETED, [("5D6E7F8A9B", "delete", False)]),
        (
            HOLD_RELEASE_REQUEUE_HOLD,
            [
                ("4BA2D20C85F", "hold", False),
                ("4BA2D20C85F", "release", False),
                ("4BA2D20C85F", "requeue", False),
                ("4F12020C865", "hold", False),
            ],
        ),
        (REQUEUE_THEN_EXPIRED, [("3F1A2B4C5D", "requeue", True)]),
    ],
    ids=["delete", "hold-release-requeue-hold", "requeue-seen-only-by-pickup"],
)
def test_admin_actions_are_events_of_the_story(log: str, expected: list[tuple]) -> None:
    events = admin_events(doc_of(log))
    assert [(e["queue_id"], e["action"], e["inferred"]) for e in events] == expected


DELETE_AT = "2024-03-03T10:30:00"  # when postsuper logged the delete (ClassicClock, UTC)


@pytest.mark.parametrize(
    ("row", "matched"),
    [
        (audit_row("delete", "mail:5D6E7F8A9B", "2024-03-03T10:29:58"), True),
        (audit_row("delete", "mail:5D6E7F8A9B", "2024-03-03T10:31:00"), True),  # clock skew
        (audit_row("hold", "mail:5D6E7F8A9B", "2024-03-03T10:29:58"), False),
        (audit_row("delete", "mail:5D6E7F8A9C", "2024-03-03T10:29:58"), False),
        (audit_row("delete", "other:5D6E7F8A9B", "2024-03-03T10:29:58"), False),
        (audit_row("delete", "mail:5D6E7F8A9B", "2024-03-03T10:00:00"), False),
        (audit_row("delete", "mail:5D6E7F8A9B", "2024-03-03T10:29:58", "failed"), False),
    ],
    ids=[
        "same-action-just-before",
        "slightly-after",
        "other-action",
        "other-queue-id",
        "other-server",
        "long-before",
        "failed-control",
    ],
)
def test_audit_entry_matches_only_its_own_action(row: dict[str, Any], matched: bool) -> None:
    events = admin_events(doc_of(DEFERRED_THEN_DELETED))
    assert events[0]["at"].startswith(DELETE_AT)
    match_audit(events, [row])
    want = {"actor": "alice", "at": row["at"].isoformat()} if matched else None
    assert events[0]["audit"] == want


def test_each_audit_entry_explains_one_action() -> None:
    events = admin_events(doc_of(HOLD_RELEASE_REQUEUE_HOLD))
    rows = [
        audit_row("hold", "mail:4BA2D20C85F", "2024-03-03T10:09:59"),
        audit_row("hold", "mail:4F12020C865", "2024-03-03T10:20:00"),
    ]
    match_audit(events, rows)
    assert [(e["queue_id"], e["action"], bool(e["audit"])) for e in events] == [
        ("4BA2D20C85F", "hold", True),
        ("4BA2D20C85F", "release", False),  # done on the PFX's shell: no audit entry
        ("4BA2D20C85F", "requeue", False),
        ("4F12020C865", "hold", True),
    ]


def test_deleted_message_story_says_deleted_not_still_trying() -> None:
    doc = doc_of(DEFERRED_THEN_DELETED)
    assert doc["complete"] is True
    story = add_events(story_of(doc), doc)
    (item,) = story["recipients"]
    assert item["r"]["status"] == "deleted"
    assert "Deleted from the queue" in item["words"]
    assert "keeps trying" not in item["words"]
    assert [(a.get("event"), a.get("status") or a.get("action")) for a in item["attempts"]] == [
        (None, "deferred"),
        ("admin", "delete"),
    ]


def test_requeue_and_hold_show_in_the_recipients_timeline() -> None:
    doc = doc_of(HOLD_RELEASE_REQUEUE_HOLD)
    (item,) = add_events(story_of(doc), doc)["recipients"]
    assert [a.get("action") or a.get("status") for a in item["attempts"]] == [
        "deferred",
        "hold",
        "release",
        "requeue",
        "hold",
    ]


def test_temporary_refusal_shows_before_the_delivery() -> None:
    doc = doc_of(MILTER_TEMPFAIL_THEN_RETRY)
    (item,) = add_events(story_of(doc), doc)["recipients"]
    assert [(a.get("event"), a.get("queue_id"), a.get("status")) for a in item["attempts"]] == [
        ("earlier", "1A2B3C4D5E", "rejected"),
        (None, "2B3C4D5E6F", "sent"),
    ]
