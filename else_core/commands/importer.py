"""`elsectl import FILE...`: load existing Postfix logs into the database."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from else_core import config, gctune
from else_core.db import connect, errors
from else_core.store.importer import import_files


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "import",
        help="import log files (plain, .gz, rotated sets) into the database",
        description="Raw lines by COPY, e-mails through the correlator; a file already "
        "imported (same content) is skipped.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="log files, any order (.gz ok)")
    p.add_argument("--year", type=int, help="year of the first classic (year-less) stamp")
    p.add_argument("--host-tz", metavar="TZ", help="IANA zone of classic stamps")
    p.add_argument("--host", help="store every line under this server name")
    p.add_argument("--dsn", help="connection string (default: [database] dsn, ELSE_DSN)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    dsn = config.load().dsn(args.dsn)
    with errors(), connect(dsn) as conn, gctune.batch():
        result = import_files(
            conn, args.files, year=args.year, host_tz=args.host_tz, host=args.host
        )
    print(result.summary(), file=sys.stderr)
    return 0
