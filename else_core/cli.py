"""`elsectl`: the command line of ELSE.

Sub-commands live in :mod:`else_core.commands`; this module only builds the parser,
runs the chosen command and turns :class:`~else_core.errors.ElseError` into a one-line
message and an exit code (a traceback is a bug, not an answer).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
from collections.abc import Sequence

from else_core import __version__, commands
from else_core.errors import ElseError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elsectl",
        description="ELSE - E-mail Log Search Engine for Postfix",
    )
    parser.add_argument("--version", action="version", version=f"elsectl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # A closed pipe (`elsectl parse ... | head`) ends quietly, as Unix tools do.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ElseError as exc:
        print(f"elsectl: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
