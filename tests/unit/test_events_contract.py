"""Every event the parser emits from the real logs matches its kind's TypedDict in
else_core.events (the parser/correlator contract), field names and value types alike."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from else_core.compiled import source_path
from else_core.events import FIELDS, check
from else_core.reader import read_events
from else_core.records import Event, LogLine

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "public"
FILES = sorted(CORPUS.glob("*.log")) + sorted(CORPUS.glob("lightmeter-individual/*.log"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_events_of_a_real_log_match_their_kinds_contract(path: Path) -> None:
    problems: dict[str, int] = {}
    for ev in read_events([str(path)], year=2023):
        for p in check(ev.kind, ev.f):
            problems[p] = problems.get(p, 0) + 1
    assert problems == {}


def _event(kind: str, **f: object) -> Event:
    return Event(LogLine(1, None, "h", "postfix/smtp", 1, ""), kind, None, dict(f))


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (_event("qmgr_from", sender="a@b", size=1), "qmgr_from: missing 'nrcpt'"),
        (_event("connect", client_host="h", client_ip="i", x=1), "connect: unexpected 'x'"),
        (_event("delivery", to="a", status="sent", relay="r", delay="1"), "is str, not float"),
        (_event("no_such_kind"), "unknown event kind"),
    ],
)
def test_the_contract_check_finds_what_breaks_it(event: Event, problem: str) -> None:
    assert any(problem in p for p in check(event.kind, event.f))


def test_every_kind_in_the_contract_is_documented_in_records() -> None:
    # From the source: the compiled build of records keeps no docstring.
    doc = ast.get_docstring(ast.parse(Path(source_path("else_core.records")).read_text())) or ""
    assert all(f"``{kind}``" in doc for kind in FIELDS)
