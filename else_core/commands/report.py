"""`elsectl report FILE...`: pflogsumm's statistics, counted per e-mail, or pflogsumm's own."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from else_core import config, gctune
from else_core.commands.parse import add_input_arguments
from else_core.envelope import resolve_tz
from else_core.errors import ConfigError
from else_core.reader import ReadStats, read_events
from else_core.report import (
    ReportBuilder,
    pflogsumm_totals,
    render_compat,
    render_csv,
    render_json,
    render_text,
)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (no limit) or more")
    return value


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "report",
        help="statistics like pflogsumm's, e-mails counted once (or pflogsumm's own totals)",
        description=(
            "Summarise Postfix logs. Without --compat, messages are counted once each, "
            "through content filters and forwards; --compat pflogsumm prints pflogsumm "
            "1.1.5's Grand Totals with its own counting rules. See docs/report.md."
        ),
    )
    add_input_arguments(p)
    p.add_argument("--format", choices=("text", "json", "csv"), default="text")
    p.add_argument(
        "--compat",
        choices=("pflogsumm",),
        help="pflogsumm's Grand Totals by pflogsumm's rules (one fast pass over the lines)",
    )
    p.add_argument(
        "--syslog-name",
        default="postfix",
        help="with --compat: pflogsumm's --syslog-name (default postfix)",
    )
    p.add_argument(
        "--top", type=_positive, default=10, help="rows per ranked table (0: all; default 10)"
    )
    p.add_argument(
        "--detail",
        action="store_true",
        help="all rows of the problem tables (deferrals, bounces, rejects, warnings) and "
        "untrimmed reasons",
    )
    p.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="H",
        help="only the lines of this server (repeatable): its own report",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="else.toml whose [[servers]] roles split the e-mails by way (incoming → outgoing)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.compat == "pflogsumm":
        if args.host or args.config:
            raise ConfigError("--host and --config do not apply with --compat pflogsumm")
        if args.host_tz:
            resolve_tz(args.host_tz)  # a bad zone is still an error, though unused
        text = render_compat(pflogsumm_totals(args.files, args.syslog_name), args.format)
    else:
        if args.syslog_name != "postfix":
            raise ConfigError("--syslog-name only applies with --compat pflogsumm")
        stats = ReadStats()
        roles = None
        if args.config:
            roles = {s.name: s.role for s in config.load(args.config).servers}
        builder = ReportBuilder(top=args.top, detail=args.detail, roles=roles)
        events = read_events(args.files, args.year, args.host_tz, stats)
        if args.host:
            hosts = set(args.host)
            events = (ev for ev in events if ev.line.host in hosts)
        with gctune.batch():
            builder.feed_all(events)
        report = builder.finish(stats)
        render = {"json": render_json, "csv": render_csv}.get(args.format, render_text)
        text = render(report)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0
