"""`elsectl user add|passwd|del|list|unlock|token|tokens|revoke|group ...`: WUI accounts.

Passwords come from a file (``--password-file``, first line; ``-`` is stdin) or an
interactive prompt, never from the command line (it would show in ``ps`` and the shell
history). A token is printed once; only its hash is kept.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from else_core import accounts
from else_core import config as config_mod
from else_core.db import Connection, connect
from else_core.errors import ElseError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    p = subparsers.add_parser("user", help="web UI users, API tokens and groups")
    p.add_argument("--dsn", help="connection string (default: [database] web_dsn, then dsn)")
    sub = p.add_subparsers(dest="user_command", metavar="ACTION")
    sub.required = True

    add = sub.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may see everything and administer")
    add.add_argument("--email")
    add.add_argument("--password-file", metavar="F", help="read the password from F (- = stdin)")
    add.set_defaults(func=cmd_add)

    pw = sub.add_parser("passwd", help="set a user's password (also unlocks the account)")
    pw.add_argument("name")
    pw.add_argument("--password-file", metavar="F")
    pw.set_defaults(func=cmd_passwd)

    de = sub.add_parser("del", help="delete a user")
    de.add_argument("name")
    de.set_defaults(func=cmd_del)

    ls = sub.add_parser("list", help="list users")
    ls.add_argument("--format", choices=("text", "json"), default="text")
    ls.set_defaults(func=cmd_list)

    un = sub.add_parser("unlock", help="clear a user's failed-login count")
    un.add_argument("name")
    un.set_defaults(func=cmd_unlock)

    mod = sub.add_parser("set", help="change a user's role or state")
    mod.add_argument("name")
    mod.add_argument("--admin", dest="admin", action="store_true", default=None)
    mod.add_argument("--no-admin", dest="admin", action="store_false")
    mod.add_argument("--active", dest="active", action="store_true", default=None)
    mod.add_argument("--inactive", dest="active", action="store_false")
    mod.set_defaults(func=cmd_set)

    tok = sub.add_parser("token", help="create an API token for a user (printed once)")
    tok.add_argument("name")
    tok.add_argument("--name", dest="token_name", default="api", metavar="N", help="a label")
    tok.add_argument(
        "--days",
        type=int,
        default=accounts.TOKEN_DAYS,
        help=f"valid for N days (default {accounts.TOKEN_DAYS}, at most {accounts.MAX_TOKEN_DAYS})",
    )
    tok.set_defaults(func=cmd_token)

    tl = sub.add_parser("tokens", help="list API tokens (prefixes only)")
    tl.add_argument("name", nargs="?")
    tl.set_defaults(func=cmd_tokens)

    rv = sub.add_parser("revoke", help="revoke an API token by its prefix")
    rv.add_argument("name")
    rv.add_argument("prefix")
    rv.set_defaults(func=cmd_revoke)

    gr = sub.add_parser("group", help="groups: what their members may see")
    gsub = gr.add_subparsers(dest="group_command", metavar="ACTION")
    gsub.required = True
    ga = gsub.add_parser("add", help="create a group")
    ga.add_argument("group")
    ga.add_argument("--description")
    ga.set_defaults(func=cmd_group_add)
    gt = gsub.add_parser(
        "trust",
        help="when the group's domains count on the sender side: trusted (only SASL or the"
        " group's networks; the default for new groups) or any (MAIL FROM can be forged)",
    )
    gt.add_argument("group")
    gt.add_argument("value", choices=accounts.SENDER_TRUST)
    gt.set_defaults(func=cmd_group_trust)
    gd = gsub.add_parser("del", help="delete a group")
    gd.add_argument("group")
    gd.set_defaults(func=cmd_group_del)
    gl = gsub.add_parser("list", help="list groups with members, servers, domains, addresses")
    gl.add_argument("--format", choices=("text", "json"), default="text")
    gl.set_defaults(func=cmd_group_list)
    for verb in ("bind", "unbind"):
        gb = gsub.add_parser(
            verb,
            help=f"{'add to' if verb == 'bind' else 'remove from'} a group: a user, "
            "server, domain, address or network (CIDR)",
        )
        gb.add_argument("group")
        gb.add_argument("kind", choices=("user", "server", "domain", "address", "network"))
        gb.add_argument("value")
        gb.set_defaults(func=cmd_group_bind, verb=verb)


def _conn(args: argparse.Namespace) -> Connection:
    return connect(config_mod.load().dsn(args.dsn, role="web"), autocommit=True)


def read_password(path: str | None, confirm: bool = True) -> str:
    if path:
        try:
            if path == "-":
                text = sys.stdin.readline()
            else:
                with open(path, encoding="utf-8") as fh:
                    text = fh.readline()
        except OSError as exc:
            raise ElseError(f"cannot read password file {path}: {exc.strerror}") from None
        return text.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ElseError("no terminal to prompt on: use --password-file F (or - for stdin)")
    first = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Again: ") != first:
        raise ElseError("the passwords differ")
    return first


def cmd_add(args: argparse.Namespace) -> int:
    accounts.check_username(args.name)
    password = read_password(args.password_file)
    with _conn(args) as conn:
        user = accounts.add_user(conn, args.name, password, is_admin=args.admin, email=args.email)
        accounts.audit(conn, "elsectl", "user.add", user.username, detail={"admin": args.admin})
    print(f"user {user.username} created{' (admin)' if user.is_admin else ''}")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    password = read_password(args.password_file)
    with _conn(args) as conn:
        accounts.set_password(conn, args.name, password)
        accounts.audit(conn, "elsectl", "user.passwd", args.name)
    print(f"password of {args.name} changed")
    return 0


def cmd_del(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        accounts.delete_user(conn, args.name)
        accounts.audit(conn, "elsectl", "user.del", args.name)
    print(f"user {args.name} deleted")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        accounts.unlock(conn, args.name)
        accounts.audit(conn, "elsectl", "user.unlock", args.name)
    print(f"user {args.name} unlocked")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        user = accounts.update_user(conn, args.name, is_admin=args.admin, active=args.active)
        accounts.audit(
            conn,
            "elsectl",
            "user.set",
            user.username,
            detail={"admin": user.is_admin, "active": user.active},
        )
    print(f"{user.username}: admin={user.is_admin} active={user.active}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        users = accounts.list_users(conn)
        groups = accounts.list_groups(conn)
    member_of: dict[str, list[str]] = {}
    for g in groups:
        for m in g.members:
            member_of.setdefault(m, []).append(g.name)
    if args.format == "json":
        for u in users:
            print(
                json.dumps(
                    {
                        "username": u.username,
                        "admin": u.is_admin,
                        "active": u.active,
                        "failed_logins": u.failed_logins,
                        "last_login": u.last_login.isoformat() if u.last_login else None,
                        "groups": member_of.get(u.username, []),
                    }
                )
            )
        return 0
    for u in users:
        flags = ",".join(
            f
            for f, on in (
                ("admin", u.is_admin),
                ("inactive", not u.active),
                (f"failed={u.failed_logins}", u.failed_logins > 0),
            )
            if on
        )
        groups_text = ",".join(member_of.get(u.username, [])) or "-"
        print(f"{u.username:<24} {flags or '-':<20} groups={groups_text}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        days = accounts.token_days(args.days)
        token = accounts.create_token(conn, args.name, args.token_name, days=days)
        accounts.audit(
            conn,
            "elsectl",
            "token.create",
            args.name,
            detail={"name": args.token_name, "days": days},
        )
    print(token)
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        for t in accounts.list_tokens(conn, args.name):
            expired = t.expires_at is not None and t.expires_at < accounts.now()
            state = "revoked" if t.revoked else "expired" if expired else "active"
            used = t.last_used.isoformat(timespec="seconds") if t.last_used else "never"
            ends = t.expires_at.isoformat(timespec="seconds") if t.expires_at else "never"
            print(
                f"{t.username:<24} {t.prefix}  {t.name:<16} {state:<8} expires {ends}"
                f"  last used {used}"
            )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        accounts.revoke_token(conn, args.name, args.prefix)
        accounts.audit(conn, "elsectl", "token.revoke", args.name, detail={"prefix": args.prefix})
    print(f"token {args.prefix} of {args.name} revoked")
    return 0


def cmd_group_add(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        accounts.add_group(conn, args.group, args.description)
        accounts.audit(conn, "elsectl", "group.add", args.group)
    print(f"group {args.group} created")
    return 0


def cmd_group_trust(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        accounts.set_sender_trust(conn, args.group, args.value)
        accounts.audit(conn, "elsectl", "group.trust", args.group, detail={"value": args.value})
    print(f"group {args.group}: sender trust {args.value}")
    return 0


def cmd_group_del(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        accounts.delete_group(conn, args.group)
        accounts.audit(conn, "elsectl", "group.del", args.group)
    print(f"group {args.group} deleted")
    return 0


def cmd_group_bind(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        if args.verb == "bind":
            value = accounts.group_add(conn, args.group, args.kind, args.value)
        else:
            accounts.group_remove(conn, args.group, args.kind, args.value)
            value = args.value
        accounts.audit(
            conn,
            "elsectl",
            f"group.{args.verb}",
            args.group,
            detail={"kind": args.kind, "value": value},
        )
    print(f"group {args.group}: {args.verb} {args.kind} {value}")
    return 0


def cmd_group_list(args: argparse.Namespace) -> int:
    with _conn(args) as conn:
        groups = accounts.list_groups(conn)
    for g in groups:
        if args.format == "json":
            print(
                json.dumps(
                    {
                        "name": g.name,
                        "description": g.description,
                        "members": list(g.members),
                        "servers": list(g.servers),
                        "domains": list(g.domains),
                        "networks": list(g.networks),
                        "sender_trust": g.sender_trust,
                        "addresses": list(g.addresses),
                    }
                )
            )
            continue
        print(g.name + (f"  ({g.description})" if g.description else ""))
        print(f"  members   {', '.join(g.members) or '-'}")
        print(f"  servers   {', '.join(g.servers) or 'all'}")
        print(f"  domains   {', '.join(g.domains) or '-'}")
        print(f"  addresses {', '.join(g.addresses) or '-'}")
    return 0
