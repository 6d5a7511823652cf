"""Run Debian's ``pflogsumm``; read its "Grand Totals" as ``elsectl report --compat`` keys.

Shared by the ground-truth test and ``bench/report_vs_pflogsumm``: both compare pflogsumm's
numbers with ELSE's key by key. pflogsumm prints big numbers in k/m units (``printf "%6d%s"``
of the value divided by 1024 or 1048576 past 512k / 512m), so ELSE's exact integers are put
through the same rounding (:func:`as_pflogsumm`) before comparing.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

#: The keys of ``elsectl report --compat pflogsumm --format json`` (DESIGN.md), in print order.
KEYS = (
    "received",
    "delivered",
    "forwarded",
    "deferred",
    "deferrals",
    "bounced",
    "rejected",
    "reject_warnings",
    "held",
    "discarded",
    "bytes_received",
    "bytes_delivered",
    "senders",
    "sending_hosts_domains",
    "recipients",
    "recipient_hosts_domains",
)

_LABELS = {
    "received": "received",
    "delivered": "delivered",
    "forwarded": "forwarded",
    "deferred": "deferred",
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
_LINE = re.compile(
    r"^\s*(\d+)([km]?)\s+([a-z /]+?)(?:\s+\((\d+)([km]?)\s+deferrals\)|\s+\(\d+%\))?\s*$"
)

Quantity = tuple[int, str]  # (number as printed, unit "" | "k" | "m")


def run(paths: Sequence[str | Path], *extra: str) -> str:
    """pflogsumm's whole report for ``paths`` (in order)."""
    res = subprocess.run(
        ["pflogsumm", *extra, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return res.stdout


def grand_totals(report: str) -> dict[str, Quantity]:
    """The "Grand Totals" section as ``{key: (number, unit)}`` for every key of :data:`KEYS`."""
    start = report.find("Grand Totals")
    if start < 0:
        raise ValueError("no 'Grand Totals' section in pflogsumm's output")
    out: dict[str, Quantity] = {"deferrals": (0, "")}
    for line in report[start:].splitlines():
        m = _LINE.match(line)
        if not m or m.group(3) not in _LABELS:
            continue
        out[_LABELS[m.group(3)]] = (int(m.group(1)), m.group(2))
        if m.group(4):
            out["deferrals"] = (int(m.group(4)), m.group(5))
        if m.group(3) == "recipient hosts/domains":
            break  # the last line of the section
    missing = [k for k in KEYS if k not in out]
    if missing:
        raise ValueError(f"pflogsumm's Grand Totals lack {missing}")
    return {k: out[k] for k in KEYS}


def as_pflogsumm(value: int) -> Quantity:
    """``value`` the way pflogsumm prints it (its ``adj_int_units`` then ``%6d``)."""
    if value > 536870912:
        return int(value / 1048576), "m"
    if value > 524288:
        return int(value / 1024), "k"
    return int(value), ""


def compare(else_totals: dict[str, int], pflogsumm_totals: dict[str, Quantity]) -> dict[str, str]:
    """Keys whose values differ, as ``{key: "ELSE x != pflogsumm y"}`` (empty when all agree)."""
    diff = {}
    for k in KEYS:
        if k not in else_totals:
            diff[k] = "missing from ELSE's report"
            continue
        mine = as_pflogsumm(int(else_totals[k]))
        if mine != pflogsumm_totals[k]:
            diff[k] = (
                f"ELSE {else_totals[k]} ({mine[0]}{mine[1]}) != "
                f"pflogsumm {pflogsumm_totals[k][0]}{pflogsumm_totals[k][1]}"
            )
    return diff
