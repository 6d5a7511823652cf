"""The records rebuild equal through pickle and copy, compiled or not.

A compiled class's ``__new__`` runs its (written-out) ``__init__``, so a record cannot be
made empty and filled slot by slot as pickle does with a dataclass: each one rebuilds by
calling its class with every field (``records.field_values``). The live worker's
checkpoint pickles the correlator with every open transaction, session and e-mail.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from else_core.correlate import _Group, _Session
from else_core.model import Attempt, Email, Recipient, Reject, Transaction
from else_core.records import Event, LogLine
from else_core.report.stats import _Conn, _RcptDomain, _Volume

AT = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)
LINE = LogLine(7, AT, "mx", "postfix/smtp", 42, "A1B2C3D4E5: to=<r@x.test>", "raw")
ATTEMPT = Attempt(AT, "mx", "A1B2C3D4E5", "r@x.test", "sent", relay="x[192.0.2.1]:25")
REJECT = Reject(AT, "mx", None, "RCPT", "reject", code="554", reason="Relay access denied")
TX = Transaction("mx", "A1B2C3D4E5", AT, serial=3, attempts=[ATTEMPT], rejects=[REJECT])
RCPT = Recipient("r@x.test", None, "delivered", earlier=[{"status": "rejected"}])

RECORDS: dict[str, Callable[[], Any]] = {
    "LogLine": lambda: LINE,
    "Event with fields": lambda: Event(LINE, "delivery", "A1B2C3D4E5", {"to": "r@x.test"}),
    "Event without fields": lambda: Event(LINE, "other"),
    "Attempt": lambda: ATTEMPT,
    "Reject": lambda: REJECT,
    "Transaction": lambda: TX,
    "Recipient": lambda: RCPT,
    "Email": lambda: Email(
        "id1",
        "<m@x>",
        "mx",
        "s@x",
        10,
        None,
        None,
        None,
        None,
        AT,
        AT,
        "delivered",
        True,
        [TX],
        [RCPT],
        merged_ids=["id0"],
    ),
    "_Session": lambda: _Session("c.test", "192.0.2.9", AT, refused=[REJECT], qids=["Q1"]),
    "_Group": lambda: _Group([TX], key=3, links={("mx", "B"): ("mx", "A", "filter")}),
    "_Volume": lambda: _Volume(2, 300),
    "_RcptDomain": lambda: _RcptDomain(1, 2, 3, 4.5, 6.0),
    "_Conn": lambda: _Conn(1, 2.0, 3.0),
}
WAYS: dict[str, Callable[[Any], Any]] = {
    "pickle": lambda r: pickle.loads(pickle.dumps(r, protocol=5)),
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("record", RECORDS)
def test_a_record_comes_back_equal(record: str, way: str) -> None:
    original = RECORDS[record]()
    again = WAYS[way](original)
    assert type(again) is type(original)
    assert again == original


DEFAULT_CONTAINERS: dict[str, tuple[Callable[[], Any], str]] = {
    "Event fields": (lambda: Event(LINE, "other"), "f"),
    "Transaction lines": (lambda: Transaction("mx", "Q1", AT), "seqs"),
    "Transaction attempts": (lambda: Transaction("mx", "Q1", AT), "attempts"),
    "Recipient earlier steps": (lambda: Recipient("r@x.test", None, "queued"), "earlier"),
    "Email rejects": (
        lambda: Email(
            "i", None, "mx", None, None, None, None, None, None, None, None, "queued", False, [], []
        ),
        "rejects",
    ),
    "_Session pending": (lambda: _Session("c", "192.0.2.9"), "pending"),
    "_Group links": (lambda: _Group([]), "links"),
}


@pytest.mark.parametrize("case", DEFAULT_CONTAINERS)
def test_each_record_gets_its_own_default_container(case: str) -> None:
    make, attr = DEFAULT_CONTAINERS[case]
    a, b = make(), make()
    assert getattr(a, attr) == getattr(b, attr)
    assert getattr(a, attr) is not getattr(b, attr)
