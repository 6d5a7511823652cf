"""``model.iso`` keeps recent ISO texts in a cache: what it returns must not depend on it.

Equal instants in other zones print other offsets, and two times of one zone that differ
only in ``fold`` (the repeated hour when clocks go back) compare equal in Python but
print different offsets; each case formats both times twice, so the second look-up comes
from the cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from else_core import model

BERLIN = ZoneInfo("Europe/Berlin")
INSTANT = datetime(2024, 3, 7, 14, 5, 9, tzinfo=UTC)

PAIRS = {
    "same instant, UTC and +01:00": (INSTANT, INSTANT.astimezone(timezone(timedelta(hours=1)))),
    "same instant, UTC and Berlin": (INSTANT, INSTANT.astimezone(BERLIN)),
    "Berlin's repeated hour, fold 0 and 1": (
        datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN),
        datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN, fold=1),
    ),
    "microseconds and none": (INSTANT.replace(microsecond=5), INSTANT),
    "naive and UTC": (INSTANT.replace(tzinfo=None), INSTANT),
}


@pytest.mark.parametrize(("a", "b"), PAIRS.values(), ids=PAIRS.keys())
def test_each_time_prints_as_isoformat_does(a, b):
    for ts in (a, b, a, b):
        assert model.iso(ts) == ts.isoformat()
    assert model.iso(a) != model.iso(b)


def test_none_is_none():
    assert model.iso(None) is None


def test_more_distinct_times_than_the_cache_holds_still_print_right():
    times = [INSTANT + timedelta(seconds=i) for i in range(3 * 4096 + 7)]
    assert [model.iso(t) for t in times] == [t.isoformat() for t in times]
    assert [model.iso(t) for t in times[:100]] == [t.isoformat() for t in times[:100]]
