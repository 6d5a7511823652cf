"""RFC 3339 stamps: the envelope parser's short way reads exactly what fromisoformat reads.

The parser reads a ``+HH:MM`` stamp's wall time without its offset and moves it onto the
offset's one shared tzinfo object (comparing aware datetimes with different tzinfo
objects goes through Python-level ``utcoffset()`` calls). That may not change which
stamps are accepted or what they mean.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from else_core.envelope import ClassicClock, EnvelopeParser, resolve_tz, shared_zone

BERLIN = resolve_tz("Europe/Berlin")


def _parser() -> EnvelopeParser:
    return EnvelopeParser(ClassicClock(2023, BERLIN))


def _reference(stamp: str) -> datetime | None:
    """What the stamp means: fromisoformat's reading, a zoneless one in the host's zone."""
    try:
        ts = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=BERLIN)


def _same(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b and a.utcoffset() == b.utcoffset() and (a.hour, a.fold) == (b.hour, b.fold)


@pytest.mark.parametrize(
    "stamp",
    [
        "2023-03-14T01:25:42.184527+01:00",
        "2023-03-14T01:25:42.184527-05:30",
        "2023-03-14T01:25:42+01:00",
        "2023-03-14T01:25:42.1+01:00",
        "2023-03-14T01:25:42.184+02:00",
        "2023-03-14T01:25:42.18452+01:00",
        "2023-03-14T01:25:42.1845271+01:00",  # seven digits: fromisoformat cuts the last
        "2023-03-14T01:25:42.+01:00",  # fromisoformat takes an empty fraction
        "2023-03-14T01:25:42,184+01:00",
        "2023-03-14T01:25:42.184527Z",
        "2023-03-14T01:25:42.184527+00:00",
        "2023-03-14T01:25:42.184527-00:00",
        "2023-03-14T01:25:42.184527",  # no zone: the host's
        "2023-03-14 01:25:42.184527+01:00",
        "2023-03-14T01:25:42.184527+0100",
        "2023-03-14T01:25:42.184527+01:00:30",
        "2023-03-14T01:25:42.18x527+01:00",
        "2023-03-14T01:25:42.1²4527+01:00",
        "2023-03-14T01:25:42.١٢٣+01:00",
        "2023-03-14T01:25:42.+12345+01:00",
        "2023-03-14T01:25:42. 12345+01:00",
        "2023-03-14T01:25:42.1_234+01:00",
        "2023-03-14T01:25:60.184527+01:00",
        "2023-02-29T01:25:42.184527+01:00",
        "2023-03-14T24:00:00.000000+01:00",
        "2023-03-14T01:25:42.184527+24:00",
        "2023-03-14T01:25+01.123:00:00",
        "2023-03-14T01:25:42.184527+01:0x",
    ],
)
def test_a_stamp_reads_as_fromisoformat_reads_it(stamp: str) -> None:
    p = _parser()
    # After a stamp of the same offset too: the parser then reuses its anchor time.
    p._iso_time("2023-03-14T01:25:42.000001+01:00")
    assert _same(p._iso_time(stamp), _reference(stamp))
    assert _same(_parser()._iso_time(stamp), _reference(stamp))


def test_mangled_stamps_read_as_fromisoformat_reads_them() -> None:
    """Seeded mutations of real stamps, read in one stream (the remembered offset moves)."""
    rnd = random.Random(20261206)
    alphabet = "0123456789+-:.TZ ,x²١"
    p = _parser()
    bases = [
        "2023-03-14T01:25:42.184527+01:00",
        "2023-03-14T01:25:42.184-05:00",
        "2023-03-14T01:25:42+02:00",
        "20230314T012542.184527+01:00",
    ]
    differ = []
    for i in range(20000):
        chars = list(bases[i % len(bases)])
        for _ in range(rnd.randint(0, 3)):
            k = rnd.randrange(len(chars))
            op = rnd.random()
            if op < 0.4:
                chars[k] = rnd.choice(alphabet)
            elif op < 0.7:
                chars.insert(k, rnd.choice(alphabet))
            else:
                del chars[k]
        stamp = "".join(chars)
        if not _same(p._iso_time(stamp), _reference(stamp)):
            differ.append(stamp)
    assert differ == []


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2023-03-14T01:25:42.184527+01:00", "2023-03-14T01:25:43.000001+01:00"),
        ("2023-03-14T01:25:42.184527+01:00", "2023-03-15T07:00:00+01:00"),
        ("2023-10-29T02:59:59.999999+02:00", "2023-10-29T02:00:00.000001+01:00"),
    ],
)
def test_times_of_one_offset_share_one_tzinfo(first: str, second: str) -> None:
    a, b = _parser()._iso_time(first), _parser()._iso_time(second)
    assert a is not None and b is not None
    assert (a.tzinfo is b.tzinfo) == (a.utcoffset() == b.utcoffset())
    assert a < b


def test_a_stream_that_mixes_offsets_reads_each_stamp_in_its_own() -> None:
    """Hosts in several zones in one stream, and summer time: the offsets alternate."""
    stamps = [
        "2023-10-29T02:59:59.5+02:00",
        "2023-10-29T01:00:00.25+00:00",
        "2023-10-29T02:00:00.75+01:00",
        "2023-10-29T02:59:59.5+02:00",
        "2023-10-28T20:00:00.125-05:00",
        "2023-10-29T02:00:00.75+01:00",
    ]
    p = _parser()
    read = [p._iso_time(s) for s in stamps]
    assert all(_same(t, _reference(s)) for t, s in zip(read, stamps, strict=True))
    by_offset: dict[object, set[int]] = {}
    for t in read:
        assert t is not None
        by_offset.setdefault(t.utcoffset(), set()).add(id(t.tzinfo))
    assert all(len(ids) == 1 for ids in by_offset.values())


def test_a_named_fixed_zone_keeps_its_name() -> None:
    shared_zone(datetime(2023, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    named = datetime(2023, 1, 1, tzinfo=timezone(timedelta(hours=1), "CET"))
    assert shared_zone(named).tzname() == "CET"


def test_equal_offsets_get_one_tzinfo_object() -> None:
    a = shared_zone(datetime(2023, 1, 1, 4, tzinfo=timezone(timedelta(hours=3))))
    b = shared_zone(datetime(2023, 1, 1, 5, tzinfo=timezone(timedelta(hours=3))))
    c = shared_zone(datetime(2023, 1, 1, 5, tzinfo=timezone(timedelta(hours=-3))))
    assert a.tzinfo is b.tzinfo and b.hour == 5 and b.utcoffset() == timedelta(hours=3)
    assert c.tzinfo is not a.tzinfo and c.utcoffset() == timedelta(hours=-3)


@pytest.mark.parametrize(
    "ts",
    [datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=BERLIN), datetime(2023, 1, 1)],
)
def test_utc_named_zones_and_naive_times_are_left_as_they_are(ts: datetime) -> None:
    assert shared_zone(ts) is ts
