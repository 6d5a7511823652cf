"""`elsectl ingest`: the live ingest worker (the else-ingest service runs it)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from else_core import config
from else_core.db import errors
from else_core.store.worker import Worker


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "ingest",
        help="follow the raw lines rsyslog stores and correlate them (the worker)",
        description="Runs until SIGTERM. Restart-safe: state is checkpointed with every batch.",
    )
    p.add_argument("--dsn", help="connection string (default: [database] dsn, ELSE_DSN)")
    dflt = config.INGEST_DEFAULTS
    p.add_argument(
        "--batch-size",
        type=int,
        help=f"raw lines per transaction (default: [ingest] batch_size, {dflt.batch_size})",
    )
    p.add_argument(
        "--poll-interval",
        type=float,
        help=f"seconds between polls (default: [ingest] poll_interval, {dflt.poll_interval:g})",
    )
    p.add_argument("--once", action="store_true", help="exit when caught up (for cron/tests)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = config.load()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="elsectl ingest: %(message)s",
    )
    worker = Worker(
        cfg.dsn(args.dsn),
        batch_size=args.batch_size or cfg.ingest.batch_size,
        poll_interval=args.poll_interval or cfg.ingest.poll_interval,
    )
    with errors():
        return worker.run(once=args.once)
