"""`elsectl`: the command line of ELSE.

Sub-commands live in :mod:`else_core.commands`; this module only builds the parser,
runs the chosen command and turns :class:`~else_core.errors.ElseError` into a one-line
message and an exit code (a traceback is a bug, not an answer).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
from collections.abc import Sequence

from else_core import __version__, commands
from else_core.errors import ElseError


def _command_modules(argv: Sequence[str] | None) -> list[str]:
    """The command modules this invocation needs.

    Importing a command module pulls in what it needs (psycopg, pysnmp, argon2), which
    costs more than parsing a small log; so `elsectl parse ...` loads only `parse`.
    Help (or a command whose module has another name) loads them all.
    """
    names = sorted(
        m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")
    )
    if argv is None:
        argv = sys.argv[1:]
    words = [a for a in argv if not a.startswith("-")]
    if words and words[0] in names:
        return [words[0]]
    if not words and any(a == "--version" for a in argv):
        return []
    return names


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elsectl",
        description="ELSE - E-mail Log Search Engine for Postfix",
    )
    parser.add_argument("--version", action="version", version=f"elsectl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _command_modules(argv):
        module = importlib.import_module(f"{commands.__name__}.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ElseError as exc:
        print(f"elsectl: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # A closed pipe (`elsectl parse ... | head`) ends quietly, as Unix tools do. Not by
        # SIGPIPE's default action: that would also kill `elsectl serve` when a browser
        # hangs up, and any process that calls main() in-process (the test suite).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
