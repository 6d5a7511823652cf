"""The hysteresis of an alert: when it opens, stays, reminds and resolves (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from else_core.alerts.rules import Rule
from else_core.alerts.state import Active, decide

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
RULE = Rule("q", "queue_size", threshold=100, resolve_threshold=50, clear_after=2)
REPEAT = Rule("q", "queue_size", threshold=100, resolve_threshold=50, repeat_minutes=30)


def active(state="open", clear=0, notified=NOW - timedelta(minutes=5)) -> Active:
    return Active(state, clear, notified)


@pytest.mark.parametrize(
    ("name", "rule", "current", "value", "action", "clear_count"),
    [
        ("below threshold, nothing open: nothing", RULE, None, 99, "none", 0),
        ("at the threshold is not above it", RULE, None, 100, "none", 0),
        ("above threshold opens", RULE, None, 101, "open", 0),
        ("not measured, nothing open: nothing", RULE, None, None, "none", 0),
        ("still above: stays, one message only", RULE, active(), 500, "stay", 0),
        ("between the thresholds: stays and counts no clear", RULE, active(clear=1), 70, "stay", 0),
        ("first clear evaluation does not resolve yet", RULE, active(), 50, "stay", 1),
        ("second clear evaluation in a row resolves", RULE, active(clear=1), 10, "resolve", 2),
        ("a subject no longer measured counts as clear", RULE, active(clear=1), None, "resolve", 2),
        ("acknowledged alerts resolve too", RULE, active("acknowledged", 1), 0, "resolve", 2),
        (
            "no repeat interval: never reminds",
            RULE,
            active(notified=NOW - timedelta(days=3)),
            500,
            "stay",
            0,
        ),
        (
            "repeat interval not yet over: stays",
            REPEAT,
            active(notified=NOW - timedelta(minutes=29)),
            500,
            "stay",
            0,
        ),
        (
            "repeat interval over: reminds",
            REPEAT,
            active(notified=NOW - timedelta(minutes=30)),
            500,
            "remind",
            0,
        ),
        (
            "acknowledged: no reminder",
            REPEAT,
            active("acknowledged", notified=NOW - timedelta(hours=5)),
            500,
            "stay",
            0,
        ),
    ],
)
def test_decide(name, rule, current, value, action, clear_count):
    d = decide(rule, current, value, NOW)
    assert (d.action, d.clear_count) == (action, clear_count), name


def test_without_resolve_threshold_the_threshold_resolves():
    rule = Rule("q", "queue_size", threshold=100, clear_after=1)
    assert decide(rule, active(), 100, NOW).action == "resolve"


def test_a_flapping_value_sends_one_open_and_one_resolve():
    """Values hovering around the threshold: one open, one resolve over the whole run."""
    values = [120, 90, 130, 60, 110, 40, 70, 45, 101, 30, 20]
    current, actions = None, []
    for v in values:
        d = decide(RULE, current, v, NOW)
        actions.append(d.action)
        if d.action == "open":
            current = Active("open", 0, NOW)
        elif d.action == "resolve":
            current = None
        elif current is not None:
            current = Active(current.state, d.clear_count, current.last_notified_at)
    assert [a for a in actions if a in ("open", "resolve")] == ["open", "resolve"]
