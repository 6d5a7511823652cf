"""The syslog envelope: both stamp formats, zones, years and the odd shapes seen in the wild."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from else_core.envelope import ClassicClock, EnvelopeParser, split_line
from else_core.errors import ConfigError
from else_core.reader import read_lines


@pytest.mark.parametrize(
    ("raw", "ts", "host", "program", "pid", "message"),
    [
        (
            "Mar 14 00:00:31 mx postfix/smtpd[12]: connect from x[192.0.2.1]",
            datetime(2023, 3, 14, 0, 0, 31, tzinfo=UTC),
            "mx",
            "postfix/smtpd",
            12,
            "connect from x[192.0.2.1]",
        ),
        (
            "Mar  7 09:05:01 mx postfix/qmgr[3]: ABCDEF: removed",
            datetime(2023, 3, 7, 9, 5, 1, tzinfo=UTC),
            "mx",
            "postfix/qmgr",
            3,
            "ABCDEF: removed",
        ),
        (
            "Mar 7 09:05:01 mx postfix/qmgr[3]: ABCDEF: removed",  # unpadded day (fail2ban data)
            datetime(2023, 3, 7, 9, 5, 1, tzinfo=UTC),
            "mx",
            "postfix/qmgr",
            3,
            "ABCDEF: removed",
        ),
        (
            "2023-03-14T00:00:31.185246+01:00 helga postfix/postscreen[3163107]: PASS OLD [192.0.2.1]:36942",
            datetime(2023, 3, 14, 0, 0, 31, 185246, tzinfo=timezone(timedelta(hours=1))),
            "helga",
            "postfix/postscreen",
            3163107,
            "PASS OLD [192.0.2.1]:36942",
        ),
        (
            "2023-03-14T00:00:31Z mx postfix/smtpd[1]: x",
            datetime(2023, 3, 14, 0, 0, 31, tzinfo=UTC),
            "mx",
            "postfix/smtpd",
            1,
            "x",
        ),
        (
            "Mar 14 00:00:31 mx dovecot: imap-login: Login: user=<u>",
            datetime(2023, 3, 14, 0, 0, 31, tzinfo=UTC),
            "mx",
            "dovecot",
            None,
            "imap-login: Login: user=<u>",
        ),
        (
            "Mar 14 00:00:31 <mail.info> mx postfix/smtpd[1]: x",  # FreeBSD priority prefix
            datetime(2023, 3, 14, 0, 0, 31, tzinfo=UTC),
            "mx",
            "postfix/smtpd",
            1,
            "x",
        ),
        (
            "Mar 14 00:00:31 mx postfix/smtpd[1]: [ID 197553 mail.info] connect from x[1.2.3.4]",  # Solaris
            datetime(2023, 3, 14, 0, 0, 31, tzinfo=UTC),
            "mx",
            "postfix/smtpd",
            1,
            "connect from x[1.2.3.4]",
        ),
        (
            "Mar 14 00:00:31 mx postfix-in/submission/smtpd[1]: x",
            datetime(2023, 3, 14, 0, 0, 31, tzinfo=UTC),
            "mx",
            "postfix-in/submission/smtpd",
            1,
            "x",
        ),
    ],
    ids=[
        "classic",
        "padded-day",
        "unpadded-day",
        "rfc3339",
        "rfc3339-z",
        "no-pid",
        "freebsd",
        "solaris",
        "nested-service",
    ],
)
def test_envelope_fields(
    raw: str, ts: datetime, host: str, program: str, pid: int | None, message: str
) -> None:
    line = split_line(raw, 7, 2023, UTC)
    assert (line.ts, line.host, line.program, line.pid, line.message) == (
        ts,
        host,
        program,
        pid,
        message,
    )
    assert line.seq == 7


@pytest.mark.parametrize(
    "raw",
    ["", "garbage", "Foo 14 00:00:31 mx postfix/smtpd[1]: x", "2023-99-99T00:00:00Z mx a[1]: b"],
)
def test_unreadable_envelope_is_malformed_not_an_error(raw: str) -> None:
    line = split_line(raw, 1, 2023, UTC)
    assert line.ts is None
    assert line.message == raw


def test_classic_stamps_take_the_host_zone() -> None:
    line = split_line("Jul  1 12:00:00 mx postfix/smtpd[1]: x", 1, 2023, "Europe/Berlin")
    assert line.ts == datetime(2023, 7, 1, 10, 0, tzinfo=UTC)


def test_unknown_zone_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown time zone"):
        split_line("Jul  1 12:00:00 mx postfix/smtpd[1]: x", 1, 2023, "Mars/Olympus_Mons")


def test_year_rolls_over_from_december_to_january() -> None:
    env = EnvelopeParser(ClassicClock(2024, UTC))
    stamps = [
        env.split(f"{d} mx postfix/smtpd[1]: x", i).ts
        for i, d in enumerate(
            ["Dec 31 23:59:58", "Dec 31 23:59:59", "Jan  1 00:00:00", "Jan  1 00:00:01"]
        )
    ]
    assert [s.year for s in stamps] == [2024, 2024, 2025, 2025]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(
    ("first_line_month", "mtime", "year"),
    [
        ("Nov", datetime(2025, 11, 30, tzinfo=UTC), 2025),
        (
            "Dec",
            datetime(2026, 1, 2, tzinfo=UTC),
            2025,
        ),  # a log spanning New Year, written in January
        ("Jan", datetime(2026, 1, 2, tzinfo=UTC), 2026),
    ],
    ids=["same-year", "december-log-read-in-january", "january"],
)
def test_year_is_inferred_from_the_file_mtime(
    tmp_path: Path, first_line_month: str, mtime: datetime, year: int
) -> None:
    path = tmp_path / "mail.log"
    path.write_text(f"{first_line_month} 28 10:00:00 mx postfix/smtpd[1]: x\n")
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    (line,) = read_lines([str(path)], host_tz=ZoneInfo("UTC"))
    assert line.ts is not None and line.ts.year == year
