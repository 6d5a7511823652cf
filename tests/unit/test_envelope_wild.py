"""Envelopes found in the wild: hostile numbers, <PRI>, RFC 5424 and repeat summaries.

Every odd line must come out as a LogLine (malformed when unreadable), never as an
exception: one such line used to stop a whole ``elsectl parse`` or import.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from else_core.envelope import ClassicClock, EnvelopeParser, split_line
from else_core.parser import parse
from else_core.reader import ReadStats, read_events, read_lines

PLUS1 = timezone(timedelta(hours=1))
HUGE = "9" * 5000  # past int()'s 4300-digit limit


@pytest.mark.parametrize(
    "raw",
    [
        f"Nov 28 12:00:00 mx postfix/smtpd[{HUGE}]: connect from x[192.0.2.1]",
        f"2026-11-28T12:00:00Z mx postfix/smtpd[{HUGE}]: connect from x[192.0.2.1]",
        f"<22>Nov 28 12:00:00 mx postfix/smtpd[{HUGE}]: x",
        f"<22>1 2026-11-28T12:00:00Z mx postfix/smtpd {HUGE} - - x",
        "Nov 28 12:00:00 mx postfix/smtpd[12345678901]: x",
        "Nov 28 12:00:00 mx postfix/smtpd[2147483648]: x",
        "Nov  8 12:00:00 <mail.info> mx postfix/smtpd[2147483648]: x",
        "<22>1 2026-11-28T12:00:00Z mx postfix/smtpd 2147483648 - - x",
        "Nov 28 12:00:00 mx postfix/smtpd[²]: x",
        "Nov 28 12:00:00 mx postfix/smtpd[١٢]: x",
        "Nov ١٢ 12:00:00 mx postfix/smtpd[1]: x",
        "Nov 28 1٢:00:00 mx postfix/smtpd[1]: x",
        "Feb 31 12:00:00 mx postfix/smtpd[1]: x",
        "Feb 30 12:00:00 mx postfix/smtpd[1]: x",
        "Nov 28 25:00:00 mx postfix/smtpd[1]: x",
        "Nov 28 12:61:00 mx postfix/smtpd[1]: x",
        "Nov 00 12:00:00 mx postfix/smtpd[1]: x",
        "Nov 28 12:00:00\x00mx postfix/smtpd[1]: x",
        "0000-11-28T12:00:00Z mx postfix/smtpd[1]: x",
        "2026-02-31T12:00:00Z mx postfix/smtpd[1]: x",
        "2026-11-28T25:00:00Z mx postfix/smtpd[1]: x",
        "2026-11-28T12:00:00+25:00 mx postfix/smtpd[1]: x",
        "٢٠٢٦-11-28T12:00:00Z mx postfix/smtpd[1]: x",
        "2026-11-28 mx postfix/smtpd[1]: x",
        "2026-11-28T12:00\x00:00Z mx postfix/smtpd[1]: x",
        f"{HUGE}-11-28T12:00:00Z mx postfix/smtpd[1]: x",
    ],
    ids=[
        "classic-huge-pid",
        "rfc3339-huge-pid",
        "pri-huge-pid",
        "rfc5424-huge-procid",
        "pid-11-digits",
        "pid-past-postgresql-integer",
        "pid-past-postgresql-integer-regex-path",
        "rfc5424-procid-past-postgresql-integer",
        "pid-superscript-digit",
        "pid-arabic-indic-digits",
        "day-arabic-indic-digits",
        "hour-arabic-indic-digit",
        "february-31",
        "february-30",
        "hour-25",
        "minute-61",
        "day-0",
        "nul-in-stamp",
        "year-0",
        "rfc3339-february-31",
        "rfc3339-hour-25",
        "rfc3339-offset-25h",
        "rfc3339-arabic-indic-year",
        "rfc3339-date-without-time",
        "rfc3339-nul-in-stamp",
        "rfc3339-huge-year",
    ],
)
def test_hostile_numbers_make_a_malformed_line_not_an_error(raw: str) -> None:
    line = split_line(raw, 3, 2026, UTC)
    assert (line.ts, line.program, line.pid, line.message, line.raw) == (None, "", None, raw, raw)
    assert parse(line).kind == "malformed"


@pytest.mark.parametrize(
    ("year", "raw", "ts"),
    [
        (
            2024,
            "Feb 29 12:00:01 mx postfix/smtpd[1]: x",
            datetime(2024, 2, 29, 12, 0, 1, tzinfo=UTC),
        ),
        (
            2026,
            "Feb 29 12:00:01 mx postfix/smtpd[1]: x",
            datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC),
        ),
        (2026, "Feb 29 12:00:01 mx postfix/smtpd: x", datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC)),
        (
            2026,
            "Dec 31 23:59:60 mx postfix/smtpd[1]: x",
            datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
        ),
    ],
    ids=["leap-day", "leap-day-in-guessed-common-year", "same-by-regex", "leap-second"],
)
def test_real_but_odd_classic_stamps_are_kept_in_order(year: int, raw: str, ts: datetime) -> None:
    assert split_line(raw, 1, year, UTC).ts == ts


FIELDS = ("ts", "host", "program", "pid", "message")


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        (
            "<22>1 2026-11-28T12:00:00.123456+01:00 host postfix/smtpd 1234 - - connect from x[192.0.2.1]",
            (
                datetime(2026, 11, 28, 12, 0, 0, 123456, PLUS1),
                "host",
                "postfix/smtpd",
                1234,
                "connect from x[192.0.2.1]",
            ),
        ),
        (
            '<22>1 2026-11-28T12:00:00Z mx postfix/qmgr 7 ID47 [exampleSDID@32473 iut="3" eventSource="Application"] ABCDEF: removed',
            (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), "mx", "postfix/qmgr", 7, "ABCDEF: removed"),
        ),
        (
            '<22>1 2026-11-28T12:00:00Z mx postfix/qmgr 7 - [a@1 b="x\\"]y\\\\"][c@2 d=""] ABCDEF: removed',
            (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), "mx", "postfix/qmgr", 7, "ABCDEF: removed"),
        ),
        (
            "<22>1 2026-11-28T12:00:00Z mx postfix/master - - - daemon started",
            (
                datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
                "mx",
                "postfix/master",
                None,
                "daemon started",
            ),
        ),
        (
            "<22>1 2026-11-28T12:00:00Z mx postfix/smtpd 9 - - \ufeffconnect from x[192.0.2.1]",
            (
                datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
                "mx",
                "postfix/smtpd",
                9,
                "connect from x[192.0.2.1]",
            ),
        ),
        (
            "<22>1 2026-11-28T12:00:00.123456+01:00 mx postfix/smtpd 9 - -  connect from x[192.0.2.1]",
            (
                datetime(2026, 11, 28, 12, 0, 0, 123456, PLUS1),
                "mx",
                "postfix/smtpd",
                9,
                "connect from x[192.0.2.1]",
            ),
        ),
        (
            "<22>1 2026-11-28T12:00:00Z - - - - -",
            (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), "", "", None, ""),
        ),
        (
            "<22>Nov 28 12:00:00 host postfix/qmgr[12]: ABCDEF: removed",
            (
                datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
                "host",
                "postfix/qmgr",
                12,
                "ABCDEF: removed",
            ),
        ),
        (
            "<22>Nov  8 12:00:00 postfix/qmgr[12]: ABCDEF: removed",
            (datetime(2026, 11, 8, 12, 0, tzinfo=UTC), "", "postfix/qmgr", 12, "ABCDEF: removed"),
        ),
        (
            "<22>2026-11-28T12:00:00.5+01:00 host postfix/qmgr[12]: ABCDEF: removed",
            (
                datetime(2026, 11, 28, 12, 0, 0, 500000, PLUS1),
                "host",
                "postfix/qmgr",
                12,
                "ABCDEF: removed",
            ),
        ),
        (
            "<22>Nov 28 12:00:00 2001:db8::1 postfix/qmgr[12]: ABCDEF: removed",
            (
                datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
                "2001:db8::1",
                "postfix/qmgr",
                12,
                "ABCDEF: removed",
            ),
        ),
    ],
    ids=[
        "rfc5424-rsyslog-protocol23",
        "rfc5424-structured-data",
        "rfc5424-escaped-sd-values",
        "rfc5424-nil-procid",
        "rfc5424-bom",
        "rfc5424-rsyslog-space-before-msg",
        "rfc5424-all-nil",
        "pri-classic",
        "pri-classic-no-host-socket-format",
        "pri-rfc3339-forward-format",
        "pri-ipv6-host-is-no-tag",
    ],
)
def test_pri_and_rfc5424_envelopes_are_read(raw: str, fields: tuple[object, ...]) -> None:
    line = split_line(raw, 1, 2026, UTC)
    assert tuple(getattr(line, f) for f in FIELDS) == fields
    assert line.raw == raw


@pytest.mark.parametrize(
    "raw",
    [
        "<22>1 - mx postfix/smtpd 1 - - no time",
        "<22>1 2026-11-28T12:00:00Z mx postfix/smtpd worker-1 - - non-numeric procid",
        '<22>1 2026-11-28T12:00:00Z mx postfix/smtpd 1 - [unclosed a="b" msg',
        "<22>1 2026-11-28T12:00:00Z mx postfix/smtpd 1 - -junk",
        "<22>1 2026-11-28T12:00:00Z mx",
        "<192>Nov 28 12:00:00 mx postfix/smtpd[1]: x",
        "<2x>Nov 28 12:00:00 mx postfix/smtpd[1]: x",
        "<13>last message repeated 5 times",
        "<22>1 " + '[a b="' + "\\x" * 100_000,
        "<22>" + "Nov 28 12:00:00 " + "a" * 200_000,
    ],
    ids=[
        "rfc5424-nil-timestamp",
        "rfc5424-procid-not-digits",
        "rfc5424-unclosed-sd",
        "rfc5424-junk-after-sd",
        "rfc5424-truncated",
        "pri-out-of-range",
        "pri-not-digits",
        "pri-repeat-without-stamp",
        "rfc5424-long-hostile-sd",
        "pri-long-hostile-tail",
    ],
)
def test_unreadable_pri_and_rfc5424_lines_are_malformed(raw: str) -> None:
    line = split_line(raw, 1, 2026, UTC)
    assert (line.ts, line.message) == (None, raw)


@pytest.mark.parametrize(
    ("raw", "host", "message"),
    [
        (
            "Nov 28 12:00:00 mx last message repeated 3 times",
            "mx",
            "last message repeated 3 times",
        ),
        (
            "Nov 28 12:00:00 mx postfix/smtpd[123]: last message repeated 3 times",
            "mx",
            "last message repeated 3 times",
        ),
        (
            "Nov 28 12:00:00 mx postfix/smtpd[123]: message repeated 3 times: [ lost connection after AUTH from x[192.0.2.1]]",
            "mx",
            "message repeated 3 times: [ lost connection after AUTH from x[192.0.2.1]]",
        ),
        (
            "2026-11-28T12:00:00.1+01:00 mx postfix/smtpd[123]: message repeated 2 times: [ connect from x[192.0.2.1]]\r",
            "mx",
            "message repeated 2 times: [ connect from x[192.0.2.1]]",
        ),
        (
            "Nov  8 12:00:00 <mail.info> mx postfix/smtpd[1]: message repeated 2 times: [ x]",
            "mx",
            "message repeated 2 times: [ x]",
        ),
        (
            "<22>1 2026-11-28T12:00:00Z mx postfix 4 - - message repeated 2 times: [ x]",
            "mx",
            "message repeated 2 times: [ x]",
        ),
    ],
    ids=[
        "sysklogd-no-tag",
        "rsyslog-old-format",
        "rsyslog-with-text",
        "rfc3339-with-text",
        "regex-path",
        "rfc5424",
    ],
)
def test_repeat_summaries_are_kept_as_foreign_lines(raw: str, host: str, message: str) -> None:
    line = split_line(raw, 1, 2026, UTC)
    assert (line.ts is not None, line.host, line.program, line.pid, line.message) == (
        True,
        host,
        "",
        None,
        message,
    )
    assert parse(line).kind == "foreign"


@pytest.mark.parametrize(
    "message",
    [
        "warning: message repeated 3 times",  # not at the start: Postfix's own text
        "message repeated often: [x]",
        "lost connection after DATA from x[192.0.2.1]",
    ],
)
def test_postfix_text_that_mentions_repeats_keeps_its_program(message: str) -> None:
    line = split_line(f"Nov 28 12:00:00 mx postfix/smtpd[1]: {message}", 1, 2026, UTC)
    assert (line.program, line.pid, line.message) == ("postfix/smtpd", 1, message)


def test_an_invalid_stamp_does_not_move_the_year_or_poison_the_cache() -> None:
    env = EnvelopeParser(ClassicClock(2026, UTC))
    lines = [
        env.split(raw, i)
        for i, raw in enumerate(
            [
                "Nov 28 25:00:00 mx postfix/smtpd[1]: x",
                "Nov 28 12:00:00 mx postfix/smtpd[1]: x",
                "Nov 28 25:00:00 mx postfix/smtpd[1]: x",
            ]
        )
    ]
    assert [line.ts for line in lines] == [None, datetime(2026, 11, 28, 12, tzinfo=UTC), None]


def test_a_hostile_line_is_counted_and_the_read_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "mail.log"
    path.write_text(
        "Nov 28 12:00:00 mx postfix/smtpd[1]: connect from x[192.0.2.1]\n"
        f"Nov 28 12:00:01 mx postfix/smtpd[{HUGE}]: connect from x[192.0.2.1]\n"
        "<22>1 2026-11-28T12:00:02Z mx postfix/smtpd 1 - - disconnect from x[192.0.2.1]\n"
        "Nov 28 12:00:03 mx postfix/smtpd[1]: message repeated 2 times: [ x]\n"
    )
    stats = ReadStats()
    kinds = [ev.kind for ev in read_events([str(path)], year=2026, host_tz=UTC, stats=stats)]
    assert kinds == ["connect", "malformed", "disconnect", "foreign"]
    assert (stats.lines, stats.postfix_lines, stats.malformed_lines, stats.foreign_lines) == (
        4,
        2,
        1,
        1,
    )


def test_the_year_of_a_pri_file_is_inferred_like_a_plain_one(tmp_path: Path) -> None:
    path = tmp_path / "capture.log"
    path.write_text("<22>Dec 28 10:00:00 mx postfix/smtpd[1]: x\n")
    mtime = datetime(2026, 1, 2, tzinfo=UTC).timestamp()
    os.utime(path, (mtime, mtime))
    (line,) = read_lines([str(path)], host_tz=UTC)
    assert line.ts == datetime(2025, 12, 28, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        "Nov 28 12:00:00 mx postfix/smtpd[2147483647]: x",
        "Nov  8 12:00:00 <mail.info> mx postfix/smtpd[2147483647]: x",
        "2026-11-28T12:00:00Z mx postfix/smtpd[2147483647]: x",
        "<22>1 2026-11-28T12:00:00Z mx postfix/smtpd 2147483647 - - x",
    ],
    ids=["classic", "regex-path", "rfc3339", "rfc5424"],
)
def test_the_largest_pid_the_store_holds_is_kept(raw: str) -> None:
    assert split_line(raw, 1, 2026, UTC).pid == 2**31 - 1
