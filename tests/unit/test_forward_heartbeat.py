"""The PFX heartbeat's counting (roles/rsyslog/files/else-forward-heartbeat).

ELSE trusts these counts to say whether a server's lines are complete, so each minute must be
counted once, in the right bucket, and a report must cover every minute up to "through" (the
journal itself is exercised in the lab: tests/infra/test_reconcile.py).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from else_core.forwarding import parse_heartbeat

SCRIPT = Path(__file__).resolve().parents[2] / "roles/rsyslog/files/else-forward-heartbeat"
_loader = importlib.machinery.SourceFileLoader("else_forward_heartbeat", str(SCRIPT))
_spec = importlib.util.spec_from_loader(_loader.name, _loader)
assert _spec is not None
hb = importlib.util.module_from_spec(_spec)
_loader.exec_module(hb)

T = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)


def us(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


@pytest.mark.parametrize(
    "stamps, expected",
    [
        ([T, T + timedelta(seconds=59.999999)], {"2026-12-06T06:00Z": 2}),
        ([T + timedelta(minutes=1)], {"2026-12-06T06:01Z": 1}),
        ([T - timedelta(microseconds=1)], {}),  # before the range
        ([T + timedelta(minutes=2)], {}),  # the range ends before it
    ],
)
def test_entries_are_counted_in_the_minute_of_their_journal_time(stamps, expected):
    counts = hb.per_minute([us(s) for s in stamps], T, T + timedelta(minutes=2))
    assert counts == Counter(expected)


def test_a_report_that_needs_several_lines_covers_each_minute_once():
    counts = Counter({hb.minute_key(T + timedelta(minutes=i)): i + 1 for i in range(130)})
    through = hb.minute_key(T + timedelta(minutes=140))
    lines = hb.report("2026-12-06T05:00Z", counts, through)
    parsed = [parse_heartbeat(line) for line in lines]
    assert all(parsed) and len(lines) == 3
    seen: Counter = Counter()
    for p in parsed:
        seen.update({k.strftime("%Y-%m-%dT%H:%MZ"): v for k, v in p.per_minute.items()})
    assert seen == counts
    assert parsed[-1].through == T + timedelta(minutes=140)


def test_the_first_round_only_announces_where_counting_starts(tmp_path):
    lines = hb.run(tmp_path, T + timedelta(seconds=30))
    assert lines[0] == "mail lines per minute since 2026-12-06T06:01Z: counting starts"
    assert parse_heartbeat(lines[0]) is None
