"""`elsectl servers gaps`: per PFX, the Postfix lines it sent vs the lines ELSE holds.

An admin must be able to tell that ELSE's answer for a server may be incomplete: lines still
on their way (an outage), lines lost before the forwarder (journald dropped them), or lines
RELP delivered twice. The exit code says it too (1 when any server is not complete), so a
monitoring check can run the command as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from else_core import config
from else_core import servers as servers_mod
from else_core.db import connect, errors
from else_core.forwarding import ServerGap, server_gaps
from else_core.search import parse_time


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("servers", help="per-server checks (sent vs received lines)")
    actions = p.add_subparsers(dest="servers_action", metavar="ACTION")
    actions.required = True
    g = actions.add_parser(
        "gaps",
        help="lines each PFX sent (its heartbeat counts) vs lines ELSE received",
        description="Exit code 1 when a server has missing or duplicated lines, or journald "
        "on it reported dropped lines; 0 when every server is complete.",
    )
    g.add_argument("--since", metavar="T", help="ISO 8601 (default: 24 hours ago)")
    g.add_argument("--until", metavar="T", help="ISO 8601 (default: now)")
    g.add_argument("--host", action="append", default=[], help="only this server (repeatable)")
    g.add_argument("--format", choices=("text", "json"), default="text")
    g.add_argument("--dsn", help="connection string (default: [database] dsn, ELSE_DSN)")
    g.set_defaults(func=run_gaps)
    s = actions.add_parser(
        "sync",
        help="write the configured servers' roles and addresses into the database",
        description="Reports split traffic by server role in SQL: run it after changing"
        " [[servers]] in else.toml (the else_app role does).",
    )
    s.add_argument("--dsn", help="connection string (default: [database] dsn, ELSE_DSN)")
    s.set_defaults(func=run_sync)


def _text(gaps: list[ServerGap]) -> str:
    if not gaps:
        return "no heartbeat from any server in this period: nothing to compare\n"
    out = []
    for g in gaps:
        state = "complete" if g.complete else "INCOMPLETE"
        covered = (
            f"{g.covered_from:%Y-%m-%d %H:%M}..{g.covered_through:%H:%M} UTC"
            if g.covered_from and g.covered_through
            else "no minute reported yet"
        )
        out.append(
            f"{g.host}: {state}: sent {g.sent}, received {g.received}, missing {g.missing},"
            f" duplicated {g.duplicated}"
            + (f", resent {g.resent} (RELP, dropped)" if g.resent else "")
            + f" ({covered})"
        )
        if g.journald_warnings:
            out.append(
                f"  warning: journald on {g.host} dropped lines ({g.journald_warnings}x),"
                f" last: {g.last_journald_warning}"
            )
        for minute, s, r in g.minutes[-10:]:
            out.append(f"  {minute:%Y-%m-%d %H:%M} UTC: sent {s}, received {r}")
    return "\n".join(out) + "\n"


def run_sync(args: argparse.Namespace) -> int:
    cfg = config.load()
    with errors(), connect(cfg.dsn(args.dsn)) as conn:
        changed = servers_mod.register(conn, cfg)
    if changed:
        sys.stdout.write(f"{len(changed)} server(s) changed: {', '.join(changed)}\n")
    else:
        sys.stdout.write(f"servers up to date ({len(cfg.servers)} configured)\n")
    return 0


def run_gaps(args: argparse.Namespace) -> int:
    until = parse_time(args.until, end=True) if args.until else datetime.now(UTC)
    since = parse_time(args.since) if args.since else until - timedelta(hours=24)
    with errors(), connect(config.load().dsn(args.dsn)) as conn:
        gaps = server_gaps(conn, since, until, args.host)
    if args.format == "json":
        for g in gaps:
            sys.stdout.write(json.dumps(g.as_dict()) + "\n")
    else:
        sys.stdout.write(_text(gaps))
    return 0 if all(g.complete for g in gaps) else 1
