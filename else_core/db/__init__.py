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
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10, **kwargs)
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
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        raise ServiceUnavailable(f"lost the connection to PostgreSQL: {reason}") from None
    except psycopg.Error as exc:
        raise ElseError(f"database error: {' '.join(str(exc).split())}") from None


#: The connection type code outside else_core annotates with (the WUI never imports psycopg).
Connection = psycopg.Connection
#: Errors that mean "the database cannot be reached now": a 503 to retry, not a bug.
UNREACHABLE: tuple[type[Exception], ...] = (psycopg.OperationalError, ServiceUnavailable)
