"""Build hook: compile the hot path (else_core/compiled.py lists it) with mypyc.

Everything else about the package lives in pyproject.toml. ``ELSE_PURE_BUILD=1`` builds
without compiling (a wheel of plain Python for an interpreter the controller cannot
build for); the sources are in the wheel either way, so the pure path always works.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


def compiled_modules() -> list[str]:
    """else_core.compiled.MODULES, read without importing the package."""
    tree = ast.parse((HERE / "else_core" / "compiled.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            named = any(isinstance(t, ast.Name) and t.id == "MODULES" for t in targets)
            if named and node.value is not None:
                return list(ast.literal_eval(node.value))
    raise SystemExit("else_core/compiled.py: no MODULES tuple")


def ext_modules() -> list[object]:
    if os.environ.get("ELSE_PURE_BUILD", "") not in ("", "0"):
        return []
    from mypyc.build import mypycify  # noqa: PLC0415 - a build requirement, only when compiling

    paths = [str(Path(*m.split(".")).with_suffix(".py")) for m in compiled_modules()]
    return list(mypycify(paths, opt_level="3", group_name="else_core"))


setup(ext_modules=ext_modules())
