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
