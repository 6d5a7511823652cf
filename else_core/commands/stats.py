"""`elsectl stats`: mail-flow statistics from the database."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from else_core import config
from else_core.db import connect, errors
from else_core.search import SearchError, parse_time
from else_core.stats import BUCKETS, RENDERERS, StatsQuery, compute


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("stats", help="statistics from the database (totals, series, tops)")
    p.add_argument("--since", metavar="T", help="ISO 8601 date or time (UTC unless an offset)")
    p.add_argument("--until", metavar="T", help="ISO 8601; a bare date includes that day")
    p.add_argument("--host", action="append", default=[], help="only this server (repeatable)")
    p.add_argument("--bucket", choices=BUCKETS, help="series per hour or day (default: by span)")
    p.add_argument("--top", type=int, default=10, help="length of the top lists (default 10)")
    p.add_argument(
        "--by-role",
        action="store_true",
        help="add traffic by server role and by way (incoming → outgoing); scans the e-mails",
    )
    p.add_argument("--format", choices=tuple(RENDERERS), default="text")
    p.add_argument("--dsn", help="connection string (default: [database] dsn, ELSE_DSN)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise SearchError(f"--top must be at least 1 (got {args.top})")
    q = StatsQuery(
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until, end=True) if args.until else None,
        hosts=tuple(args.host),
        bucket=args.bucket,
        top=args.top,
        by_role=args.by_role,
    )
    with errors(), connect(config.load().dsn(args.dsn)) as conn:
        report = compute(conn, q)
    sys.stdout.write(RENDERERS[args.format](report))
    return 0
