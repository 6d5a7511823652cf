"""Run the real ``elsectl`` as a subprocess, as a user would (``python -m else_core``)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def elsectl(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``elsectl ARGS``; a non-zero exit fails the test with the CLI's own stderr."""
    res = subprocess.run(
        [sys.executable, "-m", "else_core", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if res.returncode != 0:
        pytest.fail(f"elsectl {' '.join(args)} exited {res.returncode}:\n{res.stderr}")
    return res
