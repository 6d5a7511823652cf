"""Helpers for the report tests: the real pflogsumm, and small logs written inline.

pflogsumm is Debian's package (``make test`` installs it through TEST_APT_PACKAGES).
Its text output rounds big numbers to k/m units, so the exact comparison runs a copy of
the very same script in a temp dir with only the two unit thresholds raised; the
unmodified script is compared too, through our pflogsumm-style text rendering.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

PFLOGSUMM = Path("/usr/sbin/pflogsumm")
CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "public"

_LABELS = {
    "received": "received",
    "delivered": "delivered",
    "forwarded": "forwarded",
    "bounced": "bounced",
    "rejected": "rejected",
    "reject warnings": "reject_warnings",
    "held": "held",
    "discarded": "discarded",
    "bytes received": "bytes_received",
    "bytes delivered": "bytes_delivered",
    "senders": "senders",
    "sending hosts/domains": "sending_hosts_domains",
    "recipients": "recipients",
    "recipient hosts/domains": "recipient_hosts_domains",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pflogsumm: runs Debian's real /usr/sbin/pflogsumm (installed by make test)"
    )


def run_pflogsumm(script: Path, paths: list[Path], *args: str) -> str:
    """pflogsumm's stdout in the C locale (its lc() is then ASCII, as ours)."""
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"}
    proc = subprocess.run(
        ["perl", str(script), *args, *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    return proc.stdout


def grand_totals(text: str) -> dict[str, int]:
    """The 16 numbers of pflogsumm's Grand Totals block (exact script: no k/m units)."""
    block = text.split("Grand Totals", 1)[1].split("\n\n\n", 1)[0]
    out: dict[str, int] = {}
    for line in block.splitlines():
        m = re.match(r"\s*(\d+)[km ]?\s+(\S.*)$", line)
        if m is None:
            continue
        value, label = int(m.group(1)), m.group(2).strip()
        if label.startswith("deferred"):
            out["deferred"] = value
            d = re.search(r"\((\d+)[km ]?\s*deferrals\)", label)
            out["deferrals"] = int(d.group(1)) if d else 0
            continue
        label = re.sub(r" \(\d+%\)$", "", label)
        if label in _LABELS:
            out[_LABELS[label]] = value
    return out


@pytest.fixture(scope="session")
def pflogsumm_exact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed pflogsumm with k/m rounding switched off (nothing else changed)."""
    assert PFLOGSUMM.exists(), "pflogsumm is not installed: run `make test` (apt pflogsumm)"
    source = PFLOGSUMM.read_text(encoding="utf-8")
    patched, n = re.subn(r"(?m)^\$divBy(OneK|OneMeg)At\s*=\s*\d+;", r"$divBy\1At = 1e18;", source)
    assert n == 2, "pflogsumm's unit thresholds moved; update this fixture"
    path = tmp_path_factory.mktemp("pflogsumm") / "pflogsumm-exact"
    path.write_text(patched, encoding="utf-8")
    return path


@pytest.fixture
def write_log(tmp_path: Path) -> Callable[[str], Path]:
    """Write an inline log (leading indentation removed) to a file; return its path."""
    counter = iter(range(1000))

    def write(text: str) -> Path:
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        path = tmp_path / f"mail{next(counter)}.log"
        path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        return path

    return write
