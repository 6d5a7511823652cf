"""Every event the parser emits from the real logs matches its kind's TypedDict in
else_core.events (the parser/correlator contract), field names and value types alike."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args, get_type_hints

import mypy.api
import pytest

from else_core import events
from else_core.compiled import source_path
from else_core.events import FIELDS, Fields, check
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


def test_fields_types_every_field_of_every_kind_as_its_kind_does() -> None:
    fields = get_type_hints(Fields)
    disagree = {
        (kind, key): (hint, fields.get(key))
        for kind, cls in FIELDS.items()
        for key, hint in get_type_hints(cls).items()
        if key not in fields or not (hint == fields[key] or hint in get_args(fields[key]))
    }
    assert disagree == {}


def test_fields_names_no_field_that_no_kind_has() -> None:
    used = {key for cls in FIELDS.values() for key in get_type_hints(cls)}
    assert set(get_type_hints(Fields)) - used == set()


_SNIPPET_HEAD = """\
from else_core.records import Event, LogLine

def use(ev: Event) -> int:
    line = LogLine(1, None, "h", "postfix/qmgr", 1, "")
"""


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ('    return len(ev.f["stauts"])', 'has no key "stauts"'),
        ('    s: str = ev.f.get("stauts", "")\n    return 0', '(expression has type "object"'),
        ('    ev.f["size"] = "12"\n    return 0', 'has incompatible type "str"'),
        ('    return ev.f["status"]', 'Incompatible return value type (got "str"'),
        ('    Event(line, "qmgr_from", "Q", {"sender": "", "sizee": 1})\n    return 0', '"sizee"'),
        ('    Event(line, "pickup", "Q", {"uid": "0", "sender": ""})\n    return 0', '"uid"'),
    ],
    ids=[
        "misspelt-read",
        "misspelt-get",
        "wrong-type-write",
        "wrong-type-read",
        "misspelt-key",
        "wrong-value",
    ],
)
def test_mypy_rejects_a_field_the_contract_does_not_have(
    tmp_path: Path, body: str, complaint: str
) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(_SNIPPET_HEAD + body + "\n")
    out, _, status = mypy.api.run(
        ["--strict", "--no-incremental", "--follow-imports=silent", str(snippet)]
    )
    assert status == 1 and complaint in out, out


def test_mypy_accepts_the_same_snippet_spelt_right(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(_SNIPPET_HEAD + '    return ev.f.get("size", 0) + len(line.host)\n')
    out, _, status = mypy.api.run(
        ["--strict", "--no-incremental", "--follow-imports=silent", str(snippet)]
    )
    assert status == 0, out


#: Modules that read or build ``Event.f``; in them ``f``/``f2`` always name event fields.
_FIELD_MODULES = ("parser.py", "correlate.py", "report/stats.py")


def _literal_field_keys(tree: ast.AST) -> list[tuple[int, str]]:
    """``f["k"]``, ``ev.f.get("k")``, ``f.pop("k")``: the keys a module names literally."""

    def is_fields(node: ast.expr) -> bool:
        return (isinstance(node, ast.Name) and node.id in ("f", "f2")) or (
            isinstance(node, ast.Attribute) and node.attr == "f"
        )

    found = []
    for node in ast.walk(tree):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and is_fields(node.value):
            key = node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "pop", "setdefault")
            and is_fields(node.func.value)
            and node.args
        ):
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found.append((node.lineno, key.value))
    return found


@pytest.mark.parametrize("module", _FIELD_MODULES)
def test_every_field_a_module_names_is_in_the_contract(module: str) -> None:
    """mypy lets ``f.get("any key")`` through (PEP 589 allows it, typed ``object``), so a
    misspelt key only tested for truth (``if f.get("hlo"):``) needs this check."""
    path = Path(events.__file__).parent / module
    keys = _literal_field_keys(ast.parse(path.read_text(), str(path)))
    # The amavis rule collects the Queue-ID in its dict before moving it to Event.qid.
    fields = get_type_hints(Fields).keys() | {"qid"}
    assert keys and [(line, k) for line, k in keys if k not in fields] == []


def test_the_field_name_check_finds_a_misspelt_get() -> None:
    tree = ast.parse('if ev.f.get("hlo"):\n    tx.helo = f["helo"]\n')
    assert _literal_field_keys(tree) == [(1, "hlo"), (2, "helo")]
