"""The compiled hot path (mypyc) and its pure-Python fallback are one code base.

What ships is the compiled build, so the suite must run it: a stale or missing build in
a checkout would silently test the sources instead (``make venv`` rebuilds).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from else_core import compiled

BUILT = [name for name in compiled.MODULES if compiled._extension(name) is not None]


@pytest.mark.parametrize("name", BUILT)
def test_a_built_module_runs_compiled_unless_the_pure_path_is_asked_for(name: str) -> None:
    module = importlib.import_module(name)
    if compiled.pure_requested():
        assert not compiled.is_compiled(module)
    else:
        assert compiled.is_compiled(module), f"{name}: extension older than source: make venv"


@pytest.mark.parametrize(("value", "pure"), [("1", True), ("0", False), ("", False)])
def test_the_environment_variable_chooses_the_sources(value: str, pure: bool) -> None:
    code = (
        "import else_core.compiled as c, importlib\n"
        "print(all(not c.is_compiled(importlib.import_module(m)) for m in c.MODULES))"
    )
    env = {k: v for k, v in os.environ.items() if k != compiled.PURE_ENV}
    env[compiled.PURE_ENV] = value
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == str(pure or not BUILT)


def test_a_pure_copy_is_private_and_from_source() -> None:
    copy = compiled.load_pure("else_core.correlate")
    assert copy.__file__ == compiled.source_path("else_core.correlate")
    assert copy is not sys.modules["else_core.correlate"]
    assert copy.Correlator is not sys.modules["else_core.correlate"].Correlator


# Records built once per line or per e-mail: their __init__ is written out in the class
# body (init=False), because mypyc compiles that, while a dataclass's generated __init__
# stays interpreted Python (3-4x slower to build each object).
HOT_RECORDS = [
    ("else_core.records", "LogLine"),
    ("else_core.records", "Event"),
    ("else_core.model", "Attempt"),
    ("else_core.model", "Reject"),
    ("else_core.model", "Transaction"),
    ("else_core.model", "Recipient"),
    ("else_core.model", "Email"),
    ("else_core.correlate", "_Session"),
    ("else_core.correlate", "_Group"),
    ("else_core.report.stats", "_Volume"),
    ("else_core.report.stats", "_RcptDomain"),
    ("else_core.report.stats", "_Conn"),
]


@pytest.mark.parametrize(("module", "name"), HOT_RECORDS)
def test_a_hot_record_is_built_by_compiled_code(module: str, name: str) -> None:
    mod = importlib.import_module(module)
    init = getattr(mod, name).__init__
    if compiled.is_compiled(mod):
        assert not hasattr(init, "__code__"), f"{name}.__init__ is interpreted Python"
    else:
        assert init.__code__.co_filename == compiled.source_path(module), "not the class body's"
