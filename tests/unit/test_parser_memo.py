"""The parser's memos (repeated relays, delays, counters, queue-ID prefixes) change no result.

A line parsed when its text is already remembered gives the same event as when it is
not; each event still owns its dicts; and the memos stay bounded however varied the log.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from else_core import parser
from else_core.records import LogLine

AT = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)


def line(program: str, message: str) -> LogLine:
    return LogLine(1, AT, "mx", program, 10, message, message)


def forget() -> None:
    for memo in (parser._qid_heads, parser._relays, parser._delays, parser._counter_words):
        memo.clear()


@pytest.mark.parametrize(
    "text",
    [
        "A1B2C3D4E5: removed",
        "NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 denied",
        "3yNdYd0bDsz9tDS: removed",  # long form
        "ABCDE: removed",  # 5 hex digits: too short
        "A" * 21 + ": removed",  # too long for a short ID
        "B" * 32 + ": x",  # the longest long ID
        "B" * 33 + ": x",
        "ABCDEF:: x",  # the first colon is not followed by a space
        "ABCDEF:x: y",
        "abcdef: lower-case hex is no short ID",
        "warning: ABCDEF: x",
        "connect from x[192.0.2.1]",
        ": x",
        "",
        "ABCDEF: ",
        "ABCDEF:",
    ],
)
def test_the_queue_id_prefix_is_the_regular_expressions(text: str) -> None:
    forget()
    m = parser._QID_PREFIX.match(text)
    for _ in range(2):  # not remembered yet, then remembered
        assert parser._qid_prefix(text) == (m.end() if m else -1)


@pytest.mark.parametrize(
    ("program", "message"),
    [
        (
            "postfix/smtp",
            "A1B2C3D4E5: to=<r@x.test>, relay=mx.x.test[192.0.2.2]:25, delay=1.2,"
            " delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as F00BA4)",
        ),
        (
            "postfix/smtp",
            "A1B2C3D4E5: to=<r@x.test>, relay=none, delay=3, delays=1/2/0/0, dsn=4.4.1,"
            " status=deferred (connect to x.test[192.0.2.3]:25: Connection refused)",
        ),
        (
            "postfix/local",
            "A1B2C3D4E5: to=<u@mx.test>, relay=local, delay=0.1, delays=x/0/0/0.1, dsn=2.0.0,"
            " status=sent (delivered to mailbox)",
        ),
        (
            "postfix/smtpd",
            "disconnect from x.test[192.0.2.1] ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5",
        ),
        ("postfix/smtpd", "disconnect from x.test[192.0.2.1] ehlo=1 auth=0/1 commands=1/2"),
        ("postfix/qmgr", "3yNdYd0bDsz9tDS: removed"),
    ],
)
def test_a_remembered_text_parses_as_a_new_one(program: str, message: str) -> None:
    forget()
    first = parser.parse(line(program, message))
    again = parser.parse(line(program, message))
    assert again == first
    assert again.f is not first.f


def test_each_disconnect_owns_its_counters() -> None:
    forget()
    text = "disconnect from x.test[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"
    first = parser.parse(line("postfix/smtpd", text))
    first.f["counters"]["rcpt"] = (9, 9)
    again = parser.parse(line("postfix/smtpd", text))
    assert again.f["counters"]["rcpt"] == (1, 1)


def test_the_memos_stay_bounded() -> None:
    forget()
    for i in range(parser._MEMO_MAX + 100):
        parser.parse(
            line(
                "postfix/smtp",
                f"A1B2C3D4E5: to=<r@x.test>, relay=mx{i}.x.test[192.0.2.2]:25, delay=1,"
                f" delays=0/0/0/{i}, dsn=2.0.0, status=sent (250 ok)",
            )
        )
    assert 0 < len(parser._relays) <= parser._MEMO_MAX
    assert 0 < len(parser._delays) <= parser._MEMO_MAX


@pytest.mark.parametrize(
    ("message", "memo"),
    [
        (
            "A1B2C3D4E5: to=<r@x.test>, relay=mx" + "x" * 5000 + ".test[192.0.2.2]:25,"
            " delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)",
            "_relays",
        ),
        (
            "A1B2C3D4E5: to=<r@x.test>, relay=mx.test[192.0.2.2]:25, delay=1,"
            " delays=" + "0/" * 3000 + "1, dsn=2.0.0, status=sent (250 ok)",
            "_delays",
        ),
    ],
    ids=["a huge relay", "huge delays"],
)
def test_a_huge_token_is_parsed_but_not_remembered(message: str, memo: str) -> None:
    forget()
    event = parser.parse(line("postfix/smtp", message))
    assert event.kind == "delivery"
    assert getattr(parser, memo) == {}
