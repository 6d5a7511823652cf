"""When an alert opens, stays, reminds and resolves: the hysteresis, with no I/O.

One evaluation gives each subject a value (None: the subject was not seen, which counts
as clear). :func:`decide` turns that value and the subject's alert, if any, into one
action. Only ``open``, ``resolve`` and ``remind`` send a message: an alert that stays
open sends nothing, so a lasting problem is one message when it starts and one when it
ends, plus a reminder every ``repeat_minutes`` while nobody acknowledged it (0: never).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from else_core.alerts.rules import Rule

Action = Literal["none", "open", "stay", "remind", "resolve"]


@dataclass(frozen=True, slots=True)
class Active:
    """The unresolved alert of a (rule, subject), as :func:`decide` needs it."""

    state: Literal["open", "acknowledged"]
    clear_count: int
    last_notified_at: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    clear_count: int = 0


def decide(rule: Rule, active: Active | None, value: float | None, now: datetime) -> Decision:
    """What to do with one subject after one evaluation."""
    firing = value is not None and value > rule.threshold
    clear = value is None or value <= rule.clear_below
    if active is None:
        return Decision("open") if firing else Decision("none")
    if not clear:
        due = (
            rule.repeat_minutes > 0
            and active.state == "open"
            and active.last_notified_at is not None
            and now - active.last_notified_at >= timedelta(minutes=rule.repeat_minutes)
        )
        return Decision("remind" if due else "stay", 0)
    count = active.clear_count + 1
    if count >= rule.clear_after:
        return Decision("resolve", count)
    return Decision("stay", count)
