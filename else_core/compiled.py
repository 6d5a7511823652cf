"""The modules that ship compiled by mypyc, and how to run them as plain Python instead.

One code base: ``setup.py`` compiles :data:`MODULES` (the per-line hot path: envelope,
parser, correlator, report statistics) into C extensions that sit next to their ``.py``
files, and Python imports an extension before the source. The pure path stays available:

* ``ELSE_PURE_PYTHON=1`` in the environment imports the sources (debugging, coverage,
  tracing, and a check that both builds agree);
* in a source checkout, extensions older than any of their sources are ignored, so an
  edited module is never shadowed by a stale build (``make venv`` rebuilds them).

It is all or nothing: the compiled modules call each other directly, so a mix of
compiled and pure modules would hold two different ``Event`` classes.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

#: Compiled together (one mypyc group): the modules every log line passes through.
#: setup.py and the Makefile (rebuild prerequisites) read this tuple: one quoted name a line.
MODULES = (
    "else_core.records",
    "else_core.model",
    "else_core.queueid",
    "else_core.envelope",
    "else_core.parser",
    "else_core.reader",
    "else_core.correlate",
    "else_core.report.stats",
    "else_core.store.keys",
    "else_core.store.copyfmt",
    "else_core.store.rawcopy",
)
#: Set to a non-empty value other than 0 to import the sources of :data:`MODULES`.
PURE_ENV = "ELSE_PURE_PYTHON"

# os.path, not pathlib, and no importlib.abc: this runs at every elsectl start-up.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def source_path(name: str) -> str:
    """The ``.py`` file of one of :data:`MODULES` (a compiled module keeps no docstrings)."""
    return os.path.join(_ROOT, *name.split(".")) + ".py"


def _extension(name: str) -> str | None:
    stem = source_path(name)[:-3]
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if os.path.exists(stem + suffix):
            return stem + suffix
    return None


def _stale() -> bool:
    """A source checkout (setup.py beside the package) whose extensions predate a source.

    Only there: an installed wheel's files all carry the time pip unpacked them.
    """
    if not os.path.exists(os.path.join(_ROOT, "setup.py")):
        return False
    for name in MODULES:
        ext = _extension(name)
        if ext is not None and os.path.getmtime(ext) < os.path.getmtime(source_path(name)):
            return True
    return False


class _SourceFirst:
    """Finds :data:`MODULES` as their ``.py`` files, before the extension finder does."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname))


def pure_requested() -> bool:
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def is_compiled(module: ModuleType) -> bool:
    """Whether ``module`` was imported from a compiled extension."""
    return not str(module.__file__).endswith(".py")


def select() -> None:
    """Called once when else_core is imported, before any of :data:`MODULES` is."""
    if pure_requested() or _stale():
        sys.meta_path.insert(0, _SourceFirst())


def load_pure(name: str) -> ModuleType:
    """A private pure-Python copy of one of :data:`MODULES` (for tests that trace lines).

    It is registered under its own name, so the copy the rest of the process uses is
    untouched; its imports of other modules resolve as usual.
    """
    private = f"{name}__pure"
    if private in sys.modules:
        return sys.modules[private]
    spec = importlib.util.spec_from_file_location(private, source_path(name))
    assert spec is not None and spec.loader is not None  # a .py path always has a loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module
    spec.loader.exec_module(module)
    return module
