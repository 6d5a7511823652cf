"""smtpd's disconnect counters: the split fast path reads exactly what the regular
expression (``parser._COUNTER``) reads, plain lines and odd ones alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from else_core.parser import _COUNTER, _counters, parse
from else_core.records import LogLine


def by_regex(text: str) -> dict[str, tuple[int, int]]:
    return {
        c.group(1): (int(c.group(2)), int(c.group(3) or c.group(2)))
        for c in _COUNTER.finditer(text)
    }


@pytest.mark.parametrize(
    "text",
    [
        " ehlo=1 mail=1 rcpt=0/1 data=1 quit=1 commands=3/4",
        " ehlo=2 starttls=1 auth=0/1 unknown=0/1 commands=3/5",
        "",
        " ehlo=1  mail=1 ",
        " a_b=3",
        " a=1=2",  # not a counter shape: the expression decides
        " rcpt=0/1/2",
        " x=\u0663",  # an Arabic-Indic digit
        " \u00e9=1",
        " ehlo=1\u00a0mail=2",
        " =1 mail=1",
        " a= mail=1",
        " a=1/ mail=1",
        " a-b=1",
        " 1a=2",
    ],
)
def test_counters_read_what_the_regular_expression_reads(text: str) -> None:
    assert _counters(text, 0) == by_regex(text)


def test_a_disconnect_line_carries_its_counters() -> None:
    msg = "disconnect from c.example[192.0.2.1]:4711 ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4"
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    ev = parse(LogLine(1, ts, "mx", "postfix/smtpd", 12, msg, msg))
    assert ev.f["counters"] == {
        "ehlo": (1, 1),
        "mail": (1, 1),
        "rcpt": (0, 1),
        "quit": (1, 1),
        "commands": (3, 4),
    }
