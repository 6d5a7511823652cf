"""`elsectl search`: find e-mails (or rejects) in the database."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from else_core import config
from else_core.db import connect, errors
from else_core.search import (
    EMAIL_FIELDS,
    OPERATORS,
    REJECT_FIELDS,
    Filter,
    Query,
    SearchError,
    parse_time,
    search_emails,
    search_rejects,
    summary,
)

SHORTCUTS = (
    ("sender", "sender address, or a domain"),
    ("recipient", "recipient address, or a domain"),
    ("message_id", "Message-ID (<> optional)"),
    ("queue_id", "queue ID (use *ABC* for a part of one)"),
    ("status", "delivered|deferred|bounced|expired|rejected|discarded|held|deleted|queued"),
    ("client", "client host name or IP address"),
    ("host", "the Postfix server (syslog host name)"),
)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "search",
        help="search e-mails (or rejects) in the database",
        description="Values take wildcards: foo* (starts with), *foo (ends with), *foo* "
        "(contains), !foo (not). Other fields: --where FIELD[:OP]=VALUE, OP one of "
        + ", ".join(OPERATORS)
        + ". E-mail fields: "
        + ", ".join(EMAIL_FIELDS)
        + ". Reject fields: "
        + ", ".join(REJECT_FIELDS)
        + ".",
    )
    p.add_argument("--since", metavar="T", help="ISO 8601 date or time (UTC unless an offset)")
    p.add_argument("--until", metavar="T", help="ISO 8601; a bare date includes that day")
    for name, text in SHORTCUTS:
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="V", help=text)
    p.add_argument(
        "--where", action="append", default=[], metavar="F[:OP]=V", help="any other filter"
    )
    p.add_argument("--rejects", action="store_true", help="search the reject list instead")
    p.add_argument("--sort", default="-time", help="time, -time (default), size, -size, sender")
    p.add_argument("--limit", type=int, default=100, help="at most N results (default 100)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--dsn", help="connection string (default: [database] dsn, ELSE_DSN)")
    p.set_defaults(func=run)


def wildcard(field: str, value: str) -> Filter:
    """``foo*`` / ``*foo`` / ``*foo*`` / ``!foo`` into an operator."""
    if value.startswith("!"):
        inner = wildcard(field, value[1:])
        return Filter(field, inner.value, "not_contains" if inner.op == "contains" else "not")
    if len(value) > 2 and value.startswith("*") and value.endswith("*"):
        return Filter(field, value[1:-1], "contains")
    if len(value) > 1 and value.endswith("*"):
        return Filter(field, value[:-1], "starts")
    if len(value) > 1 and value.startswith("*"):
        return Filter(field, value[1:], "ends")
    return Filter(field, value, "equals")


def parse_where(text: str) -> Filter:
    name, sep, value = text.partition("=")
    if not sep:
        raise SearchError(f"--where {text!r}: use FIELD[:OP]=VALUE")
    field, _, op = name.partition(":")
    field = field.strip().replace("-", "_")
    if op:
        if op not in OPERATORS:
            raise SearchError(f"--where {text!r}: operator must be one of {', '.join(OPERATORS)}")
        return Filter(field, value, op)
    return wildcard(field, value)


def build_query(args: argparse.Namespace) -> Query:
    filters = [wildcard(name, getattr(args, name)) for name, _ in SHORTCUTS if getattr(args, name)]
    filters.extend(parse_where(w) for w in args.where)
    if args.rejects:
        for f in filters:
            if f.field not in REJECT_FIELDS:
                raise SearchError(f"--rejects: cannot filter on {f.field}")
    if args.limit < 1:
        raise SearchError(f"--limit must be at least 1 (got {args.limit})")
    message_ids: list[str] = []
    for f in list(filters):  # several Message-IDs at once: comma-separated
        if f.field == "message_id" and f.op == "equals" and "," in str(f.value):
            filters.remove(f)
            message_ids.extend(m for m in str(f.value).split(",") if m.strip())
    return Query(
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until, end=True) if args.until else None,
        filters=filters,
        message_ids=message_ids,
        sort=args.sort,
        limit=min(max(args.limit, 1), 1000),
        count=False,
    )


TABLE_COLUMNS = ("first_seen", "host", "queue_id", "sender", "recipient", "status")
REJECT_COLUMNS = ("at", "host", "action", "client_ip", "sender", "recipient", "code", "reason")


def _row(doc: dict[str, Any]) -> dict[str, Any]:
    rcpts = doc.get("recipients") or []
    first = rcpts[0]["address"] if rcpts else ""
    more = f" (+{len(rcpts) - 1})" if len(rcpts) > 1 else ""
    return {
        "first_seen": (doc.get("first_seen") or "")[:19],
        "host": doc.get("host"),
        "queue_id": ",".join(t["queue_id"] for t in doc.get("transactions", [])),
        "sender": doc.get("sender") if doc.get("sender") != "" else "<>",
        "recipient": first + more,
        "status": doc.get("status"),
    }


def _printable(v: Any) -> str:
    # Log values are attacker-controlled: never let them drive the terminal.
    text = "" if v is None else str(v)
    return "".join(c if c.isprintable() else "?" for c in text)


def run(args: argparse.Namespace) -> int:
    query = build_query(args)
    wanted = args.limit
    items: list[dict[str, Any]] = []
    with errors(), connect(config.load().dsn(args.dsn), autocommit=True) as conn:
        while len(items) < wanted:
            query.limit = min(1000, wanted - len(items))
            page = (search_rejects if args.rejects else search_emails)(conn, query)
            items.extend(page.items)
            if not page.next_cursor:
                break
            query.after = page.next_cursor
    out = sys.stdout
    if args.format == "json":
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
        for it in items:
            doc = it if args.rejects else summary(it["doc"])
            if args.rejects:
                doc = {k: v for k, v in it.items() if k not in ("seq", "email_id")}
            out.write(dumps(doc) + "\n")
        return 0
    columns = REJECT_COLUMNS if args.rejects else TABLE_COLUMNS
    rows = [
        {c: (it.get(c) if args.rejects else _row(it["doc"]).get(c)) for c in columns}
        for it in items
    ]
    if args.format == "csv":
        w = csv.DictWriter(out, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
        return 0
    cells = [[_printable(r[c]) for c in columns] for r in rows]
    widths = [
        min(max([len(c), *(len(row[i]) for row in cells)]), 60) for i, c in enumerate(columns)
    ]
    out.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)) + "\n")
    for row in cells:
        out.write("  ".join(v[:w].ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")
    print(f"{len(rows)} result(s)", file=sys.stderr)
    return 0
