"""`elsectl alert ...`: alert rules, alerts, acknowledgement, and the evaluator.

``alert run`` is the else-alerts service (one round with ``--once``: for cron and
tests). Actions are recorded in the audit log under the acting name (``--by``, default
the Unix user running the command).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from dataclasses import asdict
from datetime import datetime
from typing import Any

from else_core import config as config_mod
from else_core.errors import ElseError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("alert", help="alert rules, alerts, and the alert evaluator")
    p.add_argument("--dsn", help="connection string (default: [database] dsn, ELSE_DSN)")
    actions = p.add_subparsers(dest="alert_action", metavar="ACTION")
    actions.required = True

    ls = actions.add_parser("list", help="alerts (default: open and acknowledged)")
    ls.add_argument(
        "--state",
        action="append",
        choices=("open", "acknowledged", "resolved"),
        help="only alerts in this state (repeatable)",
    )
    ls.add_argument("--all", action="store_true", help="resolved alerts too")
    ls.add_argument("--limit", type=int, default=200)
    ls.add_argument("--format", choices=("text", "json"), default="text")
    ls.set_defaults(func=cmd_list)

    sh = actions.add_parser("show", help="one alert with its history and deliveries")
    sh.add_argument("id", type=int)
    sh.add_argument("--format", choices=("text", "json"), default="text")
    sh.set_defaults(func=cmd_show)

    ack = actions.add_parser("ack", help="acknowledge an open alert (stops reminders)")
    ack.add_argument("id", type=int)
    ack.add_argument("--by", help="who acknowledges (default: your user name)")
    ack.set_defaults(func=cmd_ack)

    rules = actions.add_parser("rules", help="list the rules")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    rules.set_defaults(func=cmd_rules)

    kinds = actions.add_parser("kinds", help="the rule kinds, their units and parameters")
    kinds.set_defaults(func=cmd_kinds)

    rule = actions.add_parser("rule", help="show, add, set or delete a rule")
    ra = rule.add_subparsers(dest="rule_action", metavar="ACTION")
    ra.required = True
    show = ra.add_parser("show", help="one rule")
    show.add_argument("name")
    show.set_defaults(func=cmd_rule_show)
    add = ra.add_parser("add", help="a new rule")
    add.add_argument("name")
    add.add_argument("--kind", required=True, help="see `elsectl alert kinds`")
    add.add_argument("--threshold", type=float, required=True, help="opens above this value")
    _rule_options(add)
    add.set_defaults(func=cmd_rule_add)
    st = ra.add_parser("set", help="change a rule")
    st.add_argument("name")
    st.add_argument("--kind")
    st.add_argument("--threshold", type=float)
    _rule_options(st)
    st.set_defaults(func=cmd_rule_set)
    de = ra.add_parser("delete", help="delete a rule and its alerts")
    de.add_argument("name")
    de.add_argument("--by", help="who deletes it (default: your user name)")
    de.set_defaults(func=cmd_rule_delete)

    run = actions.add_parser("run", help="evaluate the rules (the else-alerts service)")
    run.add_argument("--once", action="store_true", help="one round, then exit")
    run.add_argument("--interval", type=float, help="seconds between rounds ([alerts] interval)")
    run.add_argument("-v", "--verbose", action="store_true", help="log every round on stderr")
    run.set_defaults(func=cmd_run)


def _rule_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--resolve-threshold", type=float, help="resolves at or below (default: threshold)"
    )
    p.add_argument("--window", type=int, dest="window_minutes", help="minutes measured")
    p.add_argument("--clear-after", type=int, help="clear evaluations in a row before resolving")
    p.add_argument(
        "--repeat", type=int, dest="repeat_minutes", help="reminder every N min (0: none)"
    )
    p.add_argument("--server", help="only this server")
    p.add_argument("--group", help="only the servers of this group")
    p.add_argument("--all-servers", action="store_true", help="scope: every server")
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="kind parameter"
    )
    p.add_argument("--enable", dest="enabled", action="store_true", default=None)
    p.add_argument("--disable", dest="enabled", action="store_false")
    p.add_argument("--by", help="who makes the change (default: your user name)")


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (
        "kind",
        "threshold",
        "resolve_threshold",
        "window_minutes",
        "clear_after",
        "repeat_minutes",
        "enabled",
    ):
        value = getattr(args, name, None)
        if value is not None:
            out[name] = value
    scopes = [s for s in (args.server, args.group, args.all_servers or None) if s]
    if len(scopes) > 1:
        raise ElseError("give one of --server, --group, --all-servers")
    if args.server:
        out.update(scope_kind="server", scope_value=args.server)
    elif args.group:
        out.update(scope_kind="group", scope_value=args.group)
    elif args.all_servers:
        out.update(scope_kind="all", scope_value=None)
    if args.param:
        from else_core.alerts.rules import parse_params  # noqa: PLC0415

        out["params"] = parse_params(args.param)
    return out


def _actor(args: argparse.Namespace) -> str:
    return str(getattr(args, "by", None) or getpass.getuser())


def _conn(args: argparse.Namespace) -> Any:
    from else_core.db import connect  # noqa: PLC0415 - keep `elsectl parse` light

    return connect(config_mod.load().dsn(args.dsn), autocommit=True)


def _json(value: Any) -> str:
    return json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))


def _t(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


def cmd_list(args: argparse.Namespace) -> int:
    from else_core.alerts import store  # noqa: PLC0415
    from else_core.db import errors  # noqa: PLC0415

    states = tuple(args.state or (store.STATES if args.all else ("open", "acknowledged")))
    with errors(), _conn(args) as conn:
        rows = store.list_alerts(conn, states, args.limit)
    if args.format == "json":
        for r in rows:
            sys.stdout.write(_json(r) + "\n")
        return 0
    if not rows:
        sys.stdout.write("no alerts\n")
    for r in rows:
        who = f" by {r['acknowledged_by']}" if r["acknowledged_by"] else ""
        sys.stdout.write(
            f"{r['id']:>5} {r['state']:<12}{who} {_t(r['opened_at'])} {r['rule']}: {r['summary']}\n"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from else_core.alerts import store  # noqa: PLC0415
    from else_core.db import errors  # noqa: PLC0415

    with errors(), _conn(args) as conn:
        a = store.alert_detail(conn, args.id)
    if args.format == "json":
        sys.stdout.write(_json(a) + "\n")
        return 0
    out = [
        f"alert {a['id']}: {a['state']} - {a['rule']} ({a['kind']}) on {a['subject']}",
        f"  {a['summary']}",
        f"  value {a['value']}, threshold {a['threshold']:g}; opened {_t(a['opened_at'])},"
        f" last seen {_t(a['last_seen_at'])}, resolved {_t(a['resolved_at'])}",
    ]
    if a["acknowledged_by"]:
        out.append(f"  acknowledged by {a['acknowledged_by']} at {_t(a['acknowledged_at'])}")
    out.append("  history:")
    out += [
        f"    {_t(e['at'])} {e['kind']}{' by ' + e['actor'] if e['actor'] else ''}: {e['detail']}"
        for e in a["events"]
    ]
    out.append("  deliveries:")
    out += [
        f"    {d['event']} by {d['channel']} to {d['target']}: {d['state']}"
        f" after {d['attempts']} attempt(s){': ' + d['last_error'] if d['last_error'] else ''}"
        for d in a["deliveries"]
    ] or ["    none"]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    from else_core.alerts import store  # noqa: PLC0415
    from else_core.db import errors  # noqa: PLC0415

    with errors(), _conn(args) as conn:
        store.acknowledge(conn, args.id, _actor(args))
    sys.stdout.write(f"alert {args.id} acknowledged\n")
    return 0


def _rule_line(r: Any) -> str:
    scope = r.scope_text
    resolve = f"/{r.clear_below:g}" if r.resolve_threshold is not None else ""
    state = "" if r.enabled else " (disabled)"
    return (
        f"{r.name}{state}: {r.kind} > {r.threshold:g}{resolve}, window {r.window_minutes} min,"
        f" clear after {r.clear_after}, repeat {r.repeat_minutes or 'never'}, {scope}"
        + (f", {json.dumps(r.params)}" if r.params else "")
    )


def cmd_rules(args: argparse.Namespace) -> int:
    from else_core.alerts import store  # noqa: PLC0415
    from else_core.db import errors  # noqa: PLC0415

    with errors(), _conn(args) as conn:
        rows = store.rule_status(conn)
    for row in rows:
        rule = row.pop("rule")
        if args.format == "json":
            sys.stdout.write(_json({**asdict(rule), **row}) + "\n")
            continue
        extra = f" [{row['active']} active]" if row["active"] else ""
        if row["last_error"]:
            extra += f" [error: {row['last_error']}]"
        sys.stdout.write(_rule_line(rule) + extra + "\n")
    return 0


def cmd_kinds(_args: argparse.Namespace) -> int:
    from else_core.alerts.rules import KINDS  # noqa: PLC0415

    for k in KINDS.values():
        params = f" (parameters: {', '.join(k.params)})" if k.params else ""
        sys.stdout.write(f"{k.name}: {k.measures}, in {k.unit}{params}\n")
    return 0


def cmd_rule_show(args: argparse.Namespace) -> int:
    from else_core.alerts import store  # noqa: PLC0415
    from else_core.db import errors  # noqa: PLC0415

    with errors(), _conn(args) as conn:
        sys.stdout.write(_rule_line(store.get_rule(conn, args.name)) + "\n")
    return 0


def cmd_rule_add(args: argparse.Namespace) -> int:
    from else_core.alerts import store  # noqa: PLC0415
    from else_core.alerts.rules import Rule, validate  # noqa: PLC0415
    from else_core.db import errors  # noqa: PLC0415

    changes = _changes(args)
    kind, threshold = changes.pop("kind"), changes.pop("threshold")
    rule = validate(Rule(args.name, kind, threshold, **changes))
    with errors(), _conn(args) as conn:
        rule = store.add_rule(conn, rule, _actor(args))
    sys.stdout.write(f"added {_rule_line(rule)}\n")
    return 0


def cmd_rule_set(args: argparse.Namespace) -> int:
    from else_core.alerts import store  # noqa: PLC0415
    from else_core.db import errors  # noqa: PLC0415

    changes = _changes(args)
    if not changes:
        raise ElseError("nothing to change: give at least one option")
    with errors(), _conn(args) as conn:
        rule = store.set_rule(conn, args.name, changes, _actor(args))
    sys.stdout.write(f"changed {_rule_line(rule)}\n")
    return 0


def cmd_rule_delete(args: argparse.Namespace) -> int:
    from else_core.alerts import store  # noqa: PLC0415
    from else_core.db import errors  # noqa: PLC0415

    with errors(), _conn(args) as conn:
        store.delete_rule(conn, args.name, _actor(args))
    sys.stdout.write(f"deleted rule {args.name}\n")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from else_core.alerts import engine  # noqa: PLC0415
    from else_core.db import errors  # noqa: PLC0415

    cfg = config_mod.load()
    logging.basicConfig(
        level=logging.INFO if args.verbose or not args.once else logging.WARNING,
        format="elsectl alert: %(message)s",
    )
    _ = cfg.alerts  # a wrong type in [alerts] is a clear error before any round
    if args.interval is not None:
        if args.interval <= 0:
            raise ElseError("--interval must be > 0")
        cfg.data.setdefault("alerts", {})["interval"] = args.interval
    dsn = cfg.dsn(args.dsn)
    if not args.once:
        return engine.serve(cfg, dsn)
    with errors(), _conn(args) as conn:
        result = engine.run_once(conn, cfg)
    sys.stdout.write(
        f"{result.rules} rules evaluated: {result.opened} opened, {result.resolved} resolved,"
        f" {result.sent} messages sent, {result.failed} failed\n"
    )
    for name, reason in result.errors.items():
        sys.stdout.write(f"rule {name}: error: {reason}\n")
    return 1 if result.errors else 0
