"""`elsectl snmp status|queue|flush|hold|release|delete|requeue|poll`: talk to the PFX agents.

Credentials come from ``[snmp]`` and the servers from ``[[servers]]`` in else.toml;
``--host`` picks one server by name or address. Control actions are audited in
``audit_log`` when a database is configured (the same function the WUI uses).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from typing import Any

from else_core import config as config_mod
from else_core.db import connect
from else_core.errors import ElseError
from else_core.snmp import poller
from else_core.snmp.audit import control_with_audit, record_control
from else_core.snmp.client import SnmpManager, SnmpTarget, check_action, targets_from_config
from else_core.snmp.model import HostStatus, QueueListing

CONTROL_HELP = {
    "flush": "flush the whole queue, or one message with QUEUE_ID (postqueue -f / -i)",
    "hold": "put a message on hold (postsuper -h)",
    "release": "release a held message (postsuper -H)",
    "delete": "delete a message (postsuper -d)",
    "requeue": "requeue a message (postsuper -r)",
}


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    p = subparsers.add_parser("snmp", help="PFX status, queue and queue control over SNMPv3")
    sub = p.add_subparsers(dest="snmp_command", metavar="ACTION")
    sub.required = True

    st = sub.add_parser(
        "status", help="queue sizes, oldest deferred age, master, load, memory, disks"
    )
    st.add_argument("--host", help="server name or address (default: every configured server)")
    st.add_argument("--format", choices=("text", "json"), default="text")
    st.set_defaults(func=cmd_status)

    qu = sub.add_parser("queue", help="the queue listing (postqueue -j on the PFX)")
    qu.add_argument("--host", help="server name or address (default: every configured server)")
    qu.add_argument("--format", choices=("text", "json"), default="text")
    qu.set_defaults(func=cmd_queue)

    for action, text in CONTROL_HELP.items():
        c = sub.add_parser(action, help=text)
        c.add_argument("--host", help="server name or address (required with several servers)")
        c.add_argument("queue_id", metavar="QUEUE_ID", nargs="?" if action == "flush" else None)
        c.add_argument("--dsn", help="database for the audit log (default: [database] dsn)")
        c.set_defaults(func=cmd_control, action=action)

    po = sub.add_parser("poll", help="poll every server into PostgreSQL (the poller service)")
    po.add_argument("--once", action="store_true", help="one round, then exit")
    po.add_argument("--dsn", help="connection string (default: [database] dsn, ELSE_DSN)")
    po.set_defaults(func=cmd_poll)


def _gather_each(targets: list[SnmpTarget], what: str) -> list[tuple[SnmpTarget, Any]]:
    """Ask every target at once; one server's failure is reported, not fatal."""

    async def main() -> list[tuple[SnmpTarget, Any]]:
        async with SnmpManager() as manager:
            method = getattr(manager, what)
            results = await asyncio.gather(*(method(t) for t in targets), return_exceptions=True)
        return list(zip(targets, results, strict=True))

    out = asyncio.run(main())
    for _t, r in out:
        if isinstance(r, BaseException) and not isinstance(r, ElseError):
            raise r
    return out


def printable(text: str) -> str:
    """Addresses, reasons and names come from the network: show them, but never let
    control characters drive the terminal (escape sequences, carriage returns)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def format_status(s: HostStatus) -> str:
    q = s.queues
    load = " ".join(f"{x:.2f}" for x in s.load) if s.load else "-"
    master = {True: "running", False: "NOT RUNNING", None: "unknown"}[s.master_running]
    lines = [
        f"{s.server} ({s.address}) {s.sys_name or ''}".rstrip(),
        f"  postfix master  {master}",
        f"  queues          maildrop={q.maildrop} incoming={q.incoming} active={q.active}"
        f" deferred={q.deferred} hold={q.hold} total={q.total}",
        f"  oldest deferred {_age(s.oldest_deferred_age)}",
        f"  load            {load}",
    ]
    if s.mem_total_kb:
        lines.append(
            f"  memory          {(s.mem_used_kb or 0) // 1024} MiB used"
            f" of {s.mem_total_kb // 1024} MiB"
        )
    lines.extend(
        f"  disk {d.path:<10} {d.percent}% used, {d.avail_kb // 1024} MiB free" for d in s.disks
    )
    if s.stats_error:
        lines.append(f"  queue figures   unavailable: {s.stats_error}")
    return "\n".join(printable(line) for line in lines)


def cmd_status(args: argparse.Namespace) -> int:
    targets = targets_from_config(config_mod.load(), args.host)
    results = _gather_each(targets, "status")
    failed = 0
    for t, r in results:
        if isinstance(r, ElseError):
            failed += 1
            if args.format == "json":
                print(json.dumps({"server": t.name, "address": t.address, "error": str(r)}))
            else:
                print(f"{t.name} ({t.address})\n  error           {r}")
        elif args.format == "json":
            print(
                json.dumps(
                    {"server": r.server, "address": r.address, "at": r.at.isoformat()} | r.metrics()
                )
            )
        else:
            print(format_status(r))
    if failed == len(results) == 1:
        raise results[0][1]
    return 3 if failed else 0


def format_listing(listing: QueueListing) -> str:
    lines = [f"{listing.server}: {listing.total} message(s) in the queue"]
    for e in listing.entries:
        when = e.arrival.strftime("%Y-%m-%d %H:%M:%S") if e.arrival else "-"
        lines.append(
            f"  {e.queue_id:<16} {e.queue_name:<9} {when} {e.size or 0:>8}  {e.sender or '<>'}"
        )
        for r in e.recipients:
            reason = f"  ({r.delay_reason})" if r.delay_reason else ""
            lines.append(f"      -> {r.address}{reason}")
    if listing.truncated:
        lines.append(
            f"  ... {listing.total - len(listing.entries)} more not shown (listing capped)"
        )
    return "\n".join(printable(line) for line in lines)


def cmd_queue(args: argparse.Namespace) -> int:
    targets = targets_from_config(config_mod.load(), args.host)
    results = _gather_each(targets, "queue")
    failed = 0
    for t, r in results:
        if isinstance(r, ElseError):
            failed += 1
            print(f"{t.name}: error: {r}", file=sys.stderr)
        elif args.format == "json":
            for e in r.entries:
                print(json.dumps({"server": t.name} | e.to_json()))
        else:
            print(format_listing(r))
    if failed == len(results) == 1:
        raise results[0][1]
    return 3 if failed else 0


def cmd_control(args: argparse.Namespace) -> int:
    cfg = config_mod.load()
    targets = targets_from_config(cfg, args.host)
    if len(targets) > 1:
        raise ElseError(f"{args.action}: several servers configured, choose one with --host")
    target = targets[0]
    actor = f"cli:{getpass.getuser()}"
    try:
        dsn: str | None = cfg.dsn(args.dsn)
    except ElseError:
        dsn = None
    conn = connect(dsn) if dsn else None
    try:
        try:
            check_action(args.action, args.queue_id)
        except ElseError as exc:
            if conn is not None:
                record_control(
                    conn,
                    actor=actor,
                    server=target.name,
                    action=args.action,
                    queue_id=args.queue_id,
                    result="refused",
                    message=str(exc),
                )
            raise

        async def main() -> Any:
            async with SnmpManager() as manager:
                return await control_with_audit(
                    manager, target, args.action, args.queue_id, actor=actor, conn=conn
                )

        result = asyncio.run(main())
    finally:
        if conn is not None:
            conn.close()
    if dsn is None:
        print("elsectl: warning: no database configured, action not audited", file=sys.stderr)
    print(f"{target.name}: {result.action} {result.queue_id or ''}: {result.message}".strip())
    return 0 if result.ok else 1


def cmd_poll(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    return asyncio.run(poller.run(config_mod.load(), once=args.once, dsn=args.dsn))
