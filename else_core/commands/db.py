"""`elsectl db upgrade|prune|status`: schema migrations and retention."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from else_core import config
from else_core.db import connect, errors, migrate
from else_core.errors import ConfigError

_AGE = re.compile(r"^\s*(\d+)\s*([dhw]?)\s*$")


def parse_age(text: str) -> timedelta:
    """``90d``, ``12h``, ``2w`` or a bare number of days."""
    m = _AGE.match(text)
    if not m:
        raise ConfigError(f"invalid age {text!r}: use e.g. 90d, 12h or 2w")
    n, unit = int(m.group(1)), m.group(2) or "d"
    return {"d": timedelta(days=n), "h": timedelta(hours=n), "w": timedelta(weeks=n)}[unit]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    p = subparsers.add_parser("db", help="database schema and retention")
    sub = p.add_subparsers(dest="db_command", metavar="ACTION")
    sub.required = True

    up = sub.add_parser("upgrade", help="create or update the schema (idempotent)")
    up.add_argument("--dsn", help="owner connection string (default: owner_dsn, ELSE_OWNER_DSN)")
    up.add_argument("--target", type=int, help=argparse.SUPPRESS)  # tests: stop at a version
    up.set_defaults(func=cmd_upgrade)

    pr = sub.add_parser("prune", help="drop data older than the retention period")
    pr.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 90d, 12h, 2w")
    pr.add_argument("--dsn", help="connection string (default: the worker DSN)")
    pr.set_defaults(func=cmd_prune)

    st = sub.add_parser("status", help="schema version, partitions and ingest lag")
    st.add_argument("--dsn")
    st.set_defaults(func=cmd_status)


def cmd_upgrade(args: argparse.Namespace) -> int:
    dsn = config.load().dsn(args.dsn, role="owner")
    with errors(), connect(dsn) as conn:
        n = migrate.upgrade(conn, target=args.target)
    print(f"applied {n} migrations" if n else "schema up to date")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    before = datetime.now(UTC) - parse_age(args.older_than)
    with errors(), connect(config.load().dsn(args.dsn), autocommit=True) as conn:
        row = conn.execute("SELECT else_prune(%s)", (before,)).fetchone()
    assert row is not None  # a function call returns one row
    result = row[0]
    parts = ", ".join(f"{k}={v}" for k, v in sorted(result.items()))
    print(f"pruned data before {before.isoformat(timespec='seconds')}: {parts}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with errors(), connect(config.load().dsn(args.dsn), autocommit=True) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        lag = conn.execute(
            "SELECT name, cursor, newest_id, lag_lines, lag::text FROM ingest_lag"
        ).fetchall()
    out = {
        "schema_version": max(versions, default=0),
        "pending": [m.version for m in migrate.available() if m.version not in versions],
        "ingest": [
            dict(zip(("name", "cursor", "newest_id", "lag_lines", "lag"), r, strict=True))
            for r in lag
        ],
    }
    print(json.dumps(out, indent=2))
    return 0
