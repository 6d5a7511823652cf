"""Fixtures for the ground-truth tests: a real Postfix driven through a varied workload.

The workload runs once per session in two variants at the same time (short and long queue
IDs, each its own Postfix on its own loopback ports), so the whole module costs one run's
wall time (about 20 s). Its maillog is copied to ``test-artifacts/`` for post-mortems.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:  # `tests.support` when pytest is run without `python -m`
    sys.path.insert(0, str(REPO))

STORE_TESTS = REPO / "tests" / "integration" / "store"
if str(STORE_TESTS) not in sys.path:  # the store tests' helpers (store_pg), for pg_cluster
    sys.path.insert(0, str(STORE_TESTS))

from tests.integration.store.conftest import pg_cluster  # noqa: E402, F401 - one per session
from tests.support.cli import elsectl  # noqa: E402
from tests.support.postfix import classic_to_rfc3339  # noqa: E402
from tests.support.postfix_workload import Workload, run_workload  # noqa: E402

VARIANTS = ("short-ids", "long-ids")
LOG_FORMATS = ("classic", "rfc3339")


@pytest.fixture(scope="session")
def ground_truth() -> Any:
    """``{variant: Workload}`` after both runs finished and their Postfix stopped."""
    if os.geteuid() != 0:
        pytest.fail("the Postfix ground-truth tests run Postfix as root: run them via `make test`")
    for tool in ("postfix", "postsuper", "postqueue", "sendmail", "pflogsumm"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: `make deps-test` installs postfix and pflogsumm")
    with ThreadPoolExecutor(len(VARIANTS)) as pool:
        futures = {v: pool.submit(run_workload, long_queue_ids=v == "long-ids") for v in VARIANTS}
        runs = {v: f.result() for v, f in futures.items()}
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    for variant, wl in runs.items():
        shutil.copy(wl.maillog, artifacts / f"postfix-{variant}.maillog")
        wl.log_path("rfc3339").write_text(
            classic_to_rfc3339(wl.log_text(), _mtime_year(wl.maillog))
        )
    yield runs
    if not os.environ.get("ELSE_KEEP_POSTFIX"):
        for wl in runs.values():
            shutil.rmtree(wl.root, ignore_errors=True)


def _mtime_year(path: Path) -> int:
    return datetime.fromtimestamp(path.stat().st_mtime).year


@pytest.fixture(scope="session")
def parsed(ground_truth: dict[str, Workload]) -> Any:
    """``parsed(variant, fmt)`` -> (JSON objects of ``elsectl parse --detail``, its --summary)."""
    cache: dict[tuple[str, str], tuple[list[dict[str, Any]], dict[str, Any]]] = {}

    def get(variant: str, fmt: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        if (variant, fmt) not in cache:
            res = elsectl(
                "parse", "--detail", "--summary", str(ground_truth[variant].log_path(fmt))
            )
            objects = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
            summary = json.loads(res.stderr.strip().splitlines()[-1])
            cache[(variant, fmt)] = (objects, summary)
        return cache[(variant, fmt)]

    return get
