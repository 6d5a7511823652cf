"""PostgreSQL access for ELSE: connections, schema migrations, retention.

Every command that talks to the database goes through :func:`connect`, so an
unreachable server is one clear line (``ServiceUnavailable``) and never a traceback.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import psycopg

from else_core.errors import ElseError, ServiceUnavailable

#: LISTEN/NOTIFY channel the ingest function signals after each stored raw line.
RAW_CHANNEL = "else_raw"


def _redact(dsn: str) -> str:
    """The DSN as it may appear in an error message (no password)."""
    dsn = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", dsn)
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)


def connect(dsn: str, *, autocommit: bool = False, **kwargs: Any) -> psycopg.Connection:
    """Open a connection or raise ServiceUnavailable with the server's own reason."""
    try:
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(dsn, autocommit=autocommit, **kwargs)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split()) or exc.__class__.__name__
        raise ServiceUnavailable(
            f"cannot connect to PostgreSQL ({_redact(dsn)}): {reason}"
        ) from None


@contextlib.contextmanager
def errors() -> Iterator[None]:
    """Turn database errors into one clear line (the CLI prints ElseError, no traceback)."""
    try:
        yield
    except psycopg.errors.UndefinedTable as exc:
        raise ElseError(
            f"the database has no ELSE schema yet ({exc.diag.message_primary}):"
            " run `elsectl db upgrade`"
        ) from None
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ElseError(
            f"permission denied: {exc.diag.message_primary} (is the DSN's role the right one?)"
        ) from None
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or exc.__class__.__name__
        if is_connection_error(exc):
            raise ServiceUnavailable(f"lost the connection to PostgreSQL: {reason}") from None
        # psycopg files some server errors (54000 program limit, 53xxx resources) under
        # OperationalError too: they are not a lost connection, so name them as they are.
        raise ElseError(f"database error ({exc.sqlstate or 'no SQLSTATE'}): {reason}") from None


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection is gone (and not: the server refused a row).

    Connection failures carry no SQLSTATE (client side) or one of class 08, or are the
    server shutting down (57P01..57P03)."""
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError)
    return state.startswith("08") or state in ("57P01", "57P02", "57P03")


#: The connection type code outside else_core annotates with (the WUI never imports psycopg).
Connection = psycopg.Connection
#: Errors that mean "the database cannot be reached now": a 503 to retry, not a bug.
UNREACHABLE: tuple[type[Exception], ...] = (psycopg.OperationalError, ServiceUnavailable)
