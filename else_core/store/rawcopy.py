"""Raw log lines as rows of PostgreSQL's binary COPY format, for ``elsectl import``.

An import stores every line of its files in ``raw_events``: on an e-mail-dense log that is
ten times as many rows as all the search tables hold together, so how the server reads
them counts. In COPY's text format it parses two timestamps per line (``timestamptz_in``
is a general date parser: 6% of the server's import work) and scans every byte of every
line for escapes; in the binary format a timestamp is eight bytes and a text field a
length and its bytes. The client also stops escaping the line. The columns and their
order are :data:`COLUMNS`; the layout is that of the PostgreSQL manual's "Binary Format"
section of COPY (big-endian, a field count per row, each field its length or -1 for NULL).
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

#: The columns of ``raw_events`` an import fills, in the order of every row below.
COLUMNS = ("id", "received_at", "reported_at", "host", "program", "pid", "message", "import_id")

#: What a binary COPY starts with: the signature, no flags, no header extension.
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # PostgreSQL's timestamps count from here
_MICROSECOND = timedelta(microseconds=1)
_ROW_ID = struct.Struct("!hiq")  # field count, then the id's length and value
_INT8 = struct.Struct("!iq")
_INT4 = struct.Struct("!ii")
_LENGTH = struct.Struct("!i")
_NULL = b"\xff\xff\xff\xff"


def stamps(ts: datetime) -> bytes:
    """The ``received_at`` and ``reported_at`` fields of a line stamped ``ts`` (an import
    asks once per distinct time, not per line)."""
    field = _INT8.pack(8, (ts - _EPOCH) // _MICROSECOND)
    return field + field


def unstamped(previous: bytes) -> bytes:
    """The same fields for a line without a readable stamp of its own: received at the
    previous line's time (``previous``, from :func:`stamps`), reported at none (NULL)."""
    return previous[:12] + _NULL


def tail(import_id: int) -> bytes:
    """The ``import_id`` field, the same for every line of an import."""
    return _INT8.pack(8, import_id)


def _text(v: str) -> bytes:
    # PostgreSQL text cannot hold NUL (the reader passes NULs through): U+FFFD instead,
    # as in the text format (copyfmt._ESCAPE).
    if "\x00" in v:
        v = v.replace("\x00", "\ufffd")
    b = v.encode()
    return _LENGTH.pack(len(b)) + b


def row(  # noqa: PLR0913 - one argument per column, in the hot loop of an import
    seq: int, stamp: bytes, host: str, program: str, pid: int | None, message: str, end: bytes
) -> bytes:
    """One raw line as a binary COPY row (``stamp`` from :func:`stamps`, ``end`` from
    :func:`tail`)."""
    return b"".join(
        (
            _ROW_ID.pack(8, 8, seq),
            stamp,
            _text(host),
            _text(program),
            _NULL if pid is None else _INT4.pack(4, pid),
            _text(message),
            end,
        )
    )
