"""`elsectl serve`: the web UI on a development server (production is Apache + mod_wsgi).

Plain HTTP is only for loopback: a session cookie over HTTP to another machine would be
readable on the wire. ``--insecure-http`` is therefore refused with a non-loopback
``--host``; without it the cookies are marked Secure (put a TLS proxy in front).
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from else_core import config as config_mod
from else_core.errors import ConfigError


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # The path only, never the query string (it may hold search terms or cursors).
        sys.stderr.write(
            f"{self.address_string()} {self.command} {self.path.split('?')[0]} "
            f"{args[1] if len(args) > 1 else ''}\n"
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    p = subparsers.add_parser("serve", help="run the web UI on a development server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--dsn", help="connection string (default: [database] web_dsn, then dsn)")
    p.add_argument("--config", help="configuration file (default: /etc/else/else.toml)")
    p.add_argument(
        "--insecure-http",
        action="store_true",
        help="allow session cookies over plain HTTP (loopback only, for development)",
    )
    p.set_defaults(func=run)


def make(host: str, port: int, app: Any) -> ThreadingWSGIServer:
    return make_server(
        host, port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )


def run(args: argparse.Namespace) -> int:
    from webui import create_app  # noqa: PLC0415 - only this command needs the web stack

    if args.insecure_http and not is_loopback(args.host):
        raise ConfigError("--insecure-http is only allowed on a loopback address")
    cfg = config_mod.load(args.config)
    app = create_app(cfg, dsn=args.dsn, secure_cookies=False if args.insecure_http else None)
    try:
        server = make(args.host, args.port, app)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    scheme = "http" if args.insecure_http else "https (behind a TLS proxy)"
    print(f"ELSE web UI on {args.host}:{args.port} ({scheme}); Ctrl-C stops it", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
