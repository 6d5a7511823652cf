"""`elsectl serve`: the web UI on a development server (production is Apache + mod_wsgi).

Plain HTTP is only for loopback: a session cookie over HTTP to another machine would be
readable on the wire. ``--insecure-http`` is therefore refused with a non-loopback
``--host``; without it the cookies are marked Secure (put a TLS proxy in front).

else_core never imports the web UI (the layers point one way): the application factory
is found through the ``else.web`` entry point that the package declares
(``app = "webui:create_app"`` in pyproject.toml), so another front end could take its place.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from else_core import config as config_mod
from else_core.errors import ConfigError

#: The entry-point group and name of the web UI's application factory.
WEB_GROUP, WEB_NAME = "else.web", "app"


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets the connections of a burst of 30
    # browsers or API clients instead of letting them wait their turn.
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # The path only, never the query string (it may hold search terms or cursors).
        # A malformed request line leaves command and path None (or unset): log it
        # as "-" instead of a traceback.
        path = str(getattr(self, "path", None) or "-").split("?")[0]
        command = getattr(self, "command", None) or "-"
        shown = "".join(ch if ch.isprintable() else "?" for ch in f"{command} {path[:200]}")
        sys.stderr.write(f"{self.address_string()} {shown} {args[1] if len(args) > 1 else ''}\n")


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


def app_factory() -> Callable[..., Any]:
    """The web UI's ``create_app``, found by its entry point (loaded only when serving)."""
    for ep in entry_points(group=WEB_GROUP, name=WEB_NAME):
        factory: Callable[..., Any] = ep.load()
        return factory
    raise ConfigError(
        f"no web UI installed (entry point {WEB_NAME!r} in group {WEB_GROUP!r});"
        " install the else-appliance package"
    )


def run(args: argparse.Namespace) -> int:
    if args.insecure_http and not is_loopback(args.host):
        raise ConfigError("--insecure-http is only allowed on a loopback address")
    cfg = config_mod.load(args.config)
    app = app_factory()(cfg, dsn=args.dsn, secure_cookies=False if args.insecure_http else None)
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
