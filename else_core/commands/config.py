"""`elsectl config check FILE`: validate a configuration file before it is used.

The else_app role runs it as the ``validate:`` of /etc/else/else.toml, so a file with a
typo in a key, a value of the wrong type or an unknown server role never replaces the
working one. It reads the file only: no database, no network.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from else_core import config
from else_core.errors import ConfigError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("config", help="check the configuration file")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    c = actions.add_parser("check", help="validate FILE (exit 0: fine; 2: problems listed)")
    c.add_argument("file", metavar="FILE", help="the TOML file (e.g. /etc/else/else.toml)")
    c.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    cfg = config.load(args.file)
    problems = config.check(cfg)
    if problems:
        for p in problems:
            print(f"{args.file}: {p}", file=sys.stderr)
        raise ConfigError(f"{args.file}: {len(problems)} problem(s)")
    print(f"{args.file}: OK")
    return 0
