"""`elsectl parse FILE...`: correlate log files into JSON Lines of e-mails and rejects."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from else_core import gctune
from else_core.correlate import Correlator
from else_core.reader import ReadStats, read_events


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments every file-reading command shares."""
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="log files in time order (.gz ok, - for stdin)"
    )
    p.add_argument(
        "--year", type=int, help="year of the first classic (year-less) stamp; default: file mtime"
    )
    p.add_argument(
        "--host-tz", metavar="TZ", help="IANA zone of classic stamps (default: this machine's)"
    )


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "parse",
        help="parse and correlate log files into JSON Lines",
        description="Print one JSON object per e-mail (type=email) and per refusal (type=reject).",
    )
    add_input_arguments(p)
    p.add_argument(
        "--summary", action="store_true", help="print line/e-mail counts as JSON on stderr"
    )
    p.add_argument(
        "--detail", action="store_true", help="include every attempt, action and line number"
    )
    p.add_argument("--no-rejects", action="store_true", help="print e-mails only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stats = ReadStats()
    corr = Correlator()
    out = sys.stdout
    write = out.write
    counts = {"emails": 0, "rejects": 0}
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def emit(records: list[Any]) -> None:
        for rec in records:
            if rec.__class__.__name__ == "Reject":
                counts["rejects"] += 1
                if args.no_rejects:
                    continue
                write(dumps(rec.to_dict()))
            else:
                counts["emails"] += 1
                write(dumps(rec.to_dict(args.detail)))
            write("\n")

    with gctune.batch():
        for ev in read_events(args.files, args.year, args.host_tz, stats):
            corr.feed(ev)
            if corr._out:
                emit(corr.drain())
        emit(corr.finish())
    out.flush()
    if args.summary:
        summary = stats.as_dict() | counts
        print(json.dumps(summary), file=sys.stderr)
    return 0
