"""The layer rules of docs/architecture.md, read from the source (no import needed).

The web UI reaches the database only through else_core (so every query is in one
place, parameterised and scoped), and else_core never depends on the web UI (so the
CLI, the worker and the poller run without Bottle or Jinja).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def imported_modules(package: str) -> list[tuple[str, str]]:
    """(file, top-level module) for every import statement under ``package``."""
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out += [(str(path.relative_to(ROOT)), a.name.split(".")[0]) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.append((str(path.relative_to(ROOT)), node.module.split(".")[0]))
    return out


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("webui", "psycopg"),
        ("else_core", "webui"),
        ("else_core", "bottle"),
        ("else_core", "jinja2"),
    ],
)
def test_package_never_imports_the_forbidden_layer(package, forbidden):
    offenders = [f for f, module in imported_modules(package) if module == forbidden]
    assert offenders == []


def test_the_scan_sees_imports():
    """The rule above can fail: the scan does find webui's imports of else_core."""
    assert any(module == "else_core" for _f, module in imported_modules("webui"))


#: How a statement starts (the project writes SQL keywords in capitals; prose does not).
_SQL = re.compile(r"\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|WITH|CREATE|ALTER|DROP)\s")


def sql_literals(package: str) -> list[tuple[str, int]]:
    """(file, line) of every string constant under ``package`` that starts an SQL statement."""
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and _SQL.match(node.value)
            ):
                out.append((str(path.relative_to(ROOT)), node.lineno))
    return out


def test_the_web_ui_writes_no_sql():
    """issue 14.1: every statement lives in else_core, parameterised and scoped."""
    assert sql_literals("webui") == []


def test_the_sql_scan_finds_statements():
    assert any(f.startswith("else_core/forwarding.py") for f, _ in sql_literals("else_core"))
